package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"crypto/tls"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// This file holds a Kafka client's security keys, for the source cluster of each link (in the link's configs) and for
// the destination cluster (in the daemon file), with Kafka's Java client names:
//
//	security.protocol                      PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
//	sasl.mechanism                         PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER | GSSAPI | AWS_MSK_IAM
//	sasl.jaas.config                       the login module of the mechanism and its options (sasl.go)
//	sasl.oauthbearer.*, sasl.login.*       OAUTHBEARER's token endpoint and client credentials (oauthbearer.go)
//	sasl.kerberos.service.name             GSSAPI's service name (gssapi.go)
//	sasl.client.callback.handler.class     AWS_MSK_IAM's IAMClientCallbackHandler (awsiam.go)
//	ssl.truststore.*, ssl.keystore.*       JKS, PKCS12 or PEM stores; ssl.key.password for their key (tlsstores.go)
//	ssl.ca.location, ssl.certificate.location, ssl.key.location   PEM files, librdkafka's names
//	ssl.endpoint.identification.algorithm  https (default) | "" to skip hostname verification (the chain is still verified)
//
// Every other Kafka client security key is reported with what to use instead (unsupportedSecurityKey).

// SecurityProtocol is security.protocol.
type SecurityProtocol string

const (
	Plaintext     SecurityProtocol = "PLAINTEXT"
	SSL           SecurityProtocol = "SSL"
	SASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	SASLSSL       SecurityProtocol = "SASL_SSL"
)

func (p SecurityProtocol) usesTLS() bool  { return p == SSL || p == SASLSSL }
func (p SecurityProtocol) usesSASL() bool { return p == SASLPlaintext || p == SASLSSL }

// SASLMechanism is sasl.mechanism.
type SASLMechanism string

const (
	MechanismPlain       SASLMechanism = "PLAIN"
	MechanismScramSHA256 SASLMechanism = "SCRAM-SHA-256"
	MechanismScramSHA512 SASLMechanism = "SCRAM-SHA-512"
	MechanismOAuthBearer SASLMechanism = "OAUTHBEARER"
	MechanismGSSAPI      SASLMechanism = "GSSAPI"
	MechanismAWSMSKIAM   SASLMechanism = "AWS_MSK_IAM"
)

// saslMechanisms are the supported mechanisms, in the order errors list them.
var saslMechanisms = []SASLMechanism{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512, MechanismOAuthBearer,
	MechanismGSSAPI, MechanismAWSMSKIAM}

func mechanismList() string {
	var names []string
	for _, m := range saslMechanisms {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

// The security keys.
const (
	keySecurityProtocol    = "security.protocol"
	keySASLMechanism       = "sasl.mechanism"
	keySASLJAASConfig      = "sasl.jaas.config"
	keySSLCALocation       = "ssl.ca.location"
	keySSLCertLocation     = "ssl.certificate.location"
	keySSLKeyLocation      = "ssl.key.location"
	keySSLEndpointIdentAlg = "ssl.endpoint.identification.algorithm"
	keySSLProtocol         = "ssl.protocol"
	keySSLEnabledProtocols = "ssl.enabled.protocols"
	keySSLCipherSuites     = "ssl.cipher.suites"

	keyTrustStoreType         = "ssl.truststore.type"
	keyTrustStoreLocation     = "ssl.truststore.location"
	keyTrustStorePassword     = "ssl.truststore.password"
	keyTrustStoreCertificates = "ssl.truststore.certificates"
	keyKeyStoreType           = "ssl.keystore.type"
	keyKeyStoreLocation       = "ssl.keystore.location"
	keyKeyStorePassword       = "ssl.keystore.password"
	keyKeyStoreKey            = "ssl.keystore.key"
	keyKeyStoreChain          = "ssl.keystore.certificate.chain"
	keySSLKeyPassword         = "ssl.key.password"

	keyOAuthTokenEndpoint  = "sasl.oauthbearer.token.endpoint.url"
	keyOAuthClientID       = "sasl.oauthbearer.client.credentials.client.id"
	keyOAuthClientSecret   = "sasl.oauthbearer.client.credentials.client.secret"
	keyOAuthScope          = "sasl.oauthbearer.scope"
	keyOAuthHeaderURLEnc   = "sasl.oauthbearer.header.urlencode"
	keyLoginCallback       = "sasl.login.callback.handler.class"
	keyLoginConnectTimeout = "sasl.login.connect.timeout.ms"
	keyLoginReadTimeout    = "sasl.login.read.timeout.ms"
	keyLoginRefreshBuffer  = "sasl.login.refresh.buffer.seconds"
	keyKerberosService     = "sasl.kerberos.service.name"
	keyClientCallback      = "sasl.client.callback.handler.class"
)

// Security is how a client authenticates to and encrypts its connections to one cluster. Its zero value is
// PLAINTEXT. Its String method hides every secret, so printing or logging a Security leaks none.
type Security struct {
	Protocol SecurityProtocol
	// SASLMechanism comes from sasl.mechanism; Username and Password from sasl.jaas.config for PLAIN and SCRAM.
	SASLMechanism SASLMechanism
	Username      string
	Password      string
	OAuth         OAuthBearer // OAUTHBEARER
	Kerberos      Kerberos    // GSSAPI
	AWS           AWSIAM      // AWS_MSK_IAM

	// CALocation, CertificateLocation and KeyLocation are PEM files (librdkafka's names); KeyLocation may hold an
	// encrypted key, opened with KeyPassword.
	CALocation          string
	CertificateLocation string
	KeyLocation         string
	// TrustStore and KeyStore are Kafka's ssl.truststore.* and ssl.keystore.* (JKS, PKCS12 or PEM).
	TrustStore TrustStore
	KeyStore   KeyStore
	// KeyPassword is ssl.key.password: the password of the key entry of a JKS keystore (default: the keystore's),
	// or of an encrypted PEM key.
	KeyPassword string
	// SkipHostnameVerification is ssl.endpoint.identification.algorithm="": the broker's certificate chain is
	// verified but not its host name.
	SkipHostnameVerification bool
	// MinTLSVersion and MaxTLSVersion come from ssl.protocol and ssl.enabled.protocols (0: TLS 1.2 and Go's
	// highest); CipherSuites from ssl.cipher.suites, IANA names joined by commas ("" is Go's default).
	MinTLSVersion, MaxTLSVersion uint16
	CipherSuites                 string
}

// StoreType is ssl.truststore.type or ssl.keystore.type.
type StoreType string

const (
	StoreJKS    StoreType = "JKS"
	StorePKCS12 StoreType = "PKCS12"
	StorePEM    StoreType = "PEM"
)

// TrustStore is ssl.truststore.*: the CA certificates that verify the brokers.
type TrustStore struct {
	Type         StoreType // "" is Kafka's default, JKS (a JKS type reads PKCS12 files too, as Java does)
	Location     string
	Password     string
	Certificates string // inline PEM (ssl.truststore.certificates), with Type PEM
}

// KeyStore is ssl.keystore.*: the client certificate and key for mTLS.
type KeyStore struct {
	Type             StoreType
	Location         string
	Password         string
	Key              string // inline PEM private key (ssl.keystore.key), with Type PEM
	CertificateChain string // inline PEM chain (ssl.keystore.certificate.chain), with Type PEM
}

func (s Security) String() string {
	return fmt.Sprintf("{Protocol:%s SASLMechanism:%s Username:%s Password:%s OAuth:%s Kerberos:%+v AWS:%+v CALocation:%s "+
		"CertificateLocation:%s KeyLocation:%s TrustStore:{Type:%s Location:%s Password:%s Certificates:%d bytes} "+
		"KeyStore:{Type:%s Location:%s Password:%s Key:%s CertificateChain:%d bytes} KeyPassword:%s SkipHostnameVerification:%t "+
		"TLSVersions:%x-%x CipherSuites:%s}",
		s.Protocol, s.SASLMechanism, s.Username, maskedIf(s.Password != ""), s.OAuth, s.Kerberos, s.AWS, s.CALocation,
		s.CertificateLocation, s.KeyLocation, s.TrustStore.Type, s.TrustStore.Location, maskedIf(s.TrustStore.Password != ""),
		len(s.TrustStore.Certificates), s.KeyStore.Type, s.KeyStore.Location, maskedIf(s.KeyStore.Password != ""),
		maskedIf(s.KeyStore.Key != ""), len(s.KeyStore.CertificateChain), maskedIf(s.KeyPassword != ""), s.SkipHostnameVerification,
		s.MinTLSVersion, s.MaxTLSVersion, s.CipherSuites)
}

// GoString hides the secrets from %#v too.
func (s Security) GoString() string { return "config.Security" + s.String() }

// KgoOpts returns the franz-go options for s: kgo.DialTLSConfig for SSL and SASL_SSL, kgo.SASL for SASL_*. It reads
// the files the config names (stores, keys, keytabs), so it fails if they have changed since the config was parsed.
func (s Security) KgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.Protocol.usesTLS() {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if s.Protocol.usesSASL() {
		m, err := s.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// saslMechanism builds the franz-go mechanism of s.SASLMechanism.
func (s Security) saslMechanism() (sasl.Mechanism, error) {
	switch s.SASLMechanism {
	case MechanismPlain:
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism(), nil
	case MechanismScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism(), nil
	case MechanismScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism(), nil
	case MechanismOAuthBearer:
		return s.OAuth.mechanism()
	case MechanismGSSAPI:
		return s.Kerberos.mechanism()
	case MechanismAWSMSKIAM:
		return s.AWS.mechanism()
	}
	return nil, &FieldError{Key: keySASLMechanism, Err: fmt.Errorf("unsupported SASL mechanism %q", s.SASLMechanism)}
}

// securityKeys lists the security keys with their defaults, in the order Configs shows them (it sorts anyway).
func securityKeys() []configKey[Security] {
	str := func(name, def string, field func(s *Security) string) configKey[Security] {
		return configKey[Security]{name: name, def: def, sensitive: IsSensitive(name), format: func(s *Security) string {
			if v := field(s); v != "" {
				return v
			}
			return def
		}}
	}
	secret := func(name string, set func(s *Security) bool) configKey[Security] {
		return configKey[Security]{name: name, sensitive: true, format: func(s *Security) string { return maskedIf(set(s)) }}
	}
	ms := func(name string, field func(s *Security) time.Duration) configKey[Security] {
		return configKey[Security]{name: name, format: func(s *Security) string {
			if d := field(s); d > 0 {
				return fmt.Sprint(d.Milliseconds())
			}
			return ""
		}}
	}
	return []configKey[Security]{
		str(keySecurityProtocol, string(Plaintext), func(s *Security) string { return string(s.Protocol) }),
		str(keySASLMechanism, "", func(s *Security) string { return string(s.SASLMechanism) }),
		secret(keySASLJAASConfig, func(s *Security) bool {
			return s.Username != "" || s.Password != "" || s.OAuth != (OAuthBearer{}) || s.Kerberos != (Kerberos{}) || s.AWS != (AWSIAM{})
		}),
		str(keySSLCALocation, "", func(s *Security) string { return s.CALocation }),
		str(keySSLCertLocation, "", func(s *Security) string { return s.CertificateLocation }),
		str(keySSLKeyLocation, "", func(s *Security) string { return s.KeyLocation }),
		{name: keySSLEndpointIdentAlg, def: "https", format: func(s *Security) string {
			if s.SkipHostnameVerification {
				return ""
			}
			return "https"
		}},
		str(keySSLProtocol, "TLSv1.3", func(s *Security) string { return tlsVersionName(s.MaxTLSVersion) }),
		str(keySSLEnabledProtocols, "TLSv1.2,TLSv1.3", func(s *Security) string {
			if s.MinTLSVersion == 0 && s.MaxTLSVersion == 0 {
				return ""
			}
			lo, hi := uint16(tls.VersionTLS12), uint16(tls.VersionTLS13)
			if s.MinTLSVersion != 0 {
				lo = s.MinTLSVersion
			}
			if s.MaxTLSVersion != 0 {
				hi = s.MaxTLSVersion
			}
			var names []string
			for v := lo; v <= hi; v++ {
				names = append(names, tlsVersionName(v))
			}
			return strings.Join(names, ",")
		}),
		str(keySSLCipherSuites, "", func(s *Security) string { return s.CipherSuites }),
		str(keyTrustStoreType, string(StoreJKS), func(s *Security) string { return string(s.TrustStore.Type) }),
		str(keyTrustStoreLocation, "", func(s *Security) string { return s.TrustStore.Location }),
		secret(keyTrustStorePassword, func(s *Security) bool { return s.TrustStore.Password != "" }),
		str(keyTrustStoreCertificates, "", func(s *Security) string { return s.TrustStore.Certificates }),
		str(keyKeyStoreType, string(StoreJKS), func(s *Security) string { return string(s.KeyStore.Type) }),
		str(keyKeyStoreLocation, "", func(s *Security) string { return s.KeyStore.Location }),
		secret(keyKeyStorePassword, func(s *Security) bool { return s.KeyStore.Password != "" }),
		secret(keyKeyStoreKey, func(s *Security) bool { return s.KeyStore.Key != "" }),
		str(keyKeyStoreChain, "", func(s *Security) string { return s.KeyStore.CertificateChain }),
		secret(keySSLKeyPassword, func(s *Security) bool { return s.KeyPassword != "" }),
		str(keyOAuthTokenEndpoint, "", func(s *Security) string { return s.OAuth.TokenEndpointURL }),
		str(keyOAuthClientID, "", func(s *Security) string { return s.OAuth.ClientID }),
		secret(keyOAuthClientSecret, func(s *Security) bool { return s.OAuth.ClientSecret != "" }),
		str(keyOAuthScope, "", func(s *Security) string { return s.OAuth.Scope }),
		{name: keyOAuthHeaderURLEnc, def: "false", format: func(s *Security) string { return fmt.Sprint(s.OAuth.HeaderURLEncode) }},
		str(keyLoginCallback, "", func(s *Security) string {
			if s.OAuth.TokenEndpointURL != "" {
				return oauthLoginCallbackHandler
			}
			return ""
		}),
		ms(keyLoginConnectTimeout, func(s *Security) time.Duration { return s.OAuth.ConnectTimeout }),
		ms(keyLoginReadTimeout, func(s *Security) time.Duration { return s.OAuth.ReadTimeout }),
		{name: keyLoginRefreshBuffer, def: "300", format: func(s *Security) string {
			if s.OAuth.RefreshBuffer > 0 {
				return fmt.Sprint(int64(s.OAuth.RefreshBuffer / time.Second))
			}
			return "300"
		}},
		str(keyKerberosService, "", func(s *Security) string { return s.Kerberos.ServiceName }),
		str(keyClientCallback, "", func(s *Security) string {
			if s.SASLMechanism == MechanismAWSMSKIAM {
				return iamClientCallbackHandler
			}
			return ""
		}),
	}
}

// securityKeyNames lists the names of securityKeys.
func securityKeyNames() []string {
	var out []string
	for _, k := range securityKeys() {
		out = append(out, k.name)
	}
	return out
}

// unsupportedSecurityKey says why a Kafka client security key is not supported and what to use instead, or "".
func unsupportedSecurityKey(key string) string {
	switch key {
	case "ssl.provider", "ssl.keymanager.algorithm", "ssl.trustmanager.algorithm", "ssl.secure.random.implementation",
		"ssl.engine.factory.class":
		return "not supported: a Java security provider setting; clusterlink uses Go's TLS (ssl.protocol, " +
			"ssl.enabled.protocols and ssl.cipher.suites apply): remove it"
	case "sasl.login.class":
		return "not supported: clusterlink logs in with the mechanism's own login (set sasl.mechanism and sasl.jaas.config); remove it"
	case "sasl.kerberos.kinit.cmd", "sasl.kerberos.ticket.renew.window.factor", "sasl.kerberos.ticket.renew.jitter",
		"sasl.kerberos.min.time.before.relogin":
		return "not supported: clusterlink's Kerberos client logs in from the keytab or ticket cache of sasl.jaas.config " +
			"itself and renews its tickets; kinit and Java's relogin settings do not apply: remove it"
	case "sasl.kerberos.principal.to.local.rules", "sasl.server.callback.handler.class":
		return "not supported: a broker setting, not a client's: remove it"
	case "sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter", "sasl.login.refresh.min.period.seconds",
		"sasl.login.retry.backoff.ms", "sasl.login.retry.backoff.max.ms":
		return "not supported: clusterlink fetches a new OAUTHBEARER token sasl.login.refresh.buffer.seconds before " +
			"the current one expires, and again at each connection after a failure; set sasl.login.refresh.buffer.seconds instead"
	case "sasl.oauthbearer.jwt.retriever.class", "sasl.oauthbearer.grant.type":
		return "not supported: clusterlink gets OAUTHBEARER tokens with the client_credentials grant from " +
			"sasl.oauthbearer.token.endpoint.url (or a file:// URL); remove it"
	}
	switch {
	case strings.HasPrefix(key, "sasl.oauthbearer.assertion."):
		return "not supported: clusterlink gets OAUTHBEARER tokens with the client_credentials grant (client id and " +
			"secret), not the jwt-bearer grant: set sasl.oauthbearer.client.credentials.client.id and .client.secret"
	case strings.HasPrefix(key, "sasl.oauthbearer."):
		return "not supported: a token validation setting (JWKS, issuer, audience, claim names); clusterlink does not " +
			"check the token it gets, the broker validates it: remove it; the client keys are " + strings.Join([]string{keyOAuthTokenEndpoint, keyOAuthClientID,
			keyOAuthClientSecret, keyOAuthScope, keyOAuthHeaderURLEnc}, ", ")
	case strings.HasPrefix(key, "sasl.kerberos."):
		return "not supported: GSSAPI takes sasl.kerberos.service.name and the keytab and principal of sasl.jaas.config's Krb5LoginModule"
	case strings.HasPrefix(key, "sasl.login."):
		return "not supported: OAUTHBEARER's login takes " + strings.Join([]string{keyLoginCallback, keyLoginConnectTimeout,
			keyLoginReadTimeout, keyLoginRefreshBuffer}, ", ")
	case strings.HasPrefix(key, "ssl.truststore.") || strings.HasPrefix(key, "ssl.keystore."):
		return "not supported: the stores take type, location, password and (PEM) certificates, key, certificate.chain"
	}
	return ""
}

// parseSecurity validates the security keys in values (already resolved). trusted is true when the daemon's own
// file chose them (ParseFileLink, ParseDeclaredLink, the destination): only then may a config make the daemon use
// credentials of its host (AWS_MSK_IAM's environment or profile, a Kerberos ticket cache, a file:// token).
func parseSecurity(values map[string]string, probs *problems, trusted bool) Security {
	var s Security
	get := func(k string) string { return values[k] }

	protocol := strings.TrimSpace(get(keySecurityProtocol))
	if protocol == "" {
		protocol = string(Plaintext)
	}
	switch p := SecurityProtocol(strings.ToUpper(protocol)); p {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
		s.Protocol = p
	default:
		probs.add(keySecurityProtocol, "%q is not %s", protocol, oneOf([]string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}))
		return s
	}

	if s.Protocol.usesSASL() {
		s.parseSASL(values, probs, trusted)
	} else {
		for _, k := range saslKeys() {
			if strings.TrimSpace(get(k)) != "" {
				probs.add(k, "set, but %s=%s uses no SASL (use SASL_PLAINTEXT or SASL_SSL)", keySecurityProtocol, s.Protocol)
			}
		}
	}

	s.parseTLS(values, probs)
	return s
}

// saslKeys are the keys that only SASL uses.
func saslKeys() []string {
	var out []string
	for _, k := range securityKeyNames() {
		if strings.HasPrefix(k, "sasl.") {
			out = append(out, k)
		}
	}
	return out
}

// parseSASL sets the mechanism and its credentials.
func (s *Security) parseSASL(values map[string]string, probs *problems, trusted bool) {
	mechanism, jaas := strings.TrimSpace(values[keySASLMechanism]), values[keySASLJAASConfig]
	m := SASLMechanism(strings.ToUpper(mechanism))
	switch {
	case mechanism == "":
		probs.add(keySASLMechanism, "required with %s=%s (one of %s)", keySecurityProtocol, s.Protocol, mechanismList())
	case !knownMechanism(m):
		probs.add(keySASLMechanism, "%q is not supported: use one of %s", mechanism, mechanismList())
	default:
		s.SASLMechanism = m
	}
	if strings.TrimSpace(jaas) == "" {
		probs.add(keySASLJAASConfig, "required with %s=%s", keySecurityProtocol, s.Protocol)
		return
	}
	module, opts, err := parseJAASConfig(jaas)
	if err != nil {
		probs.addErr(keySASLJAASConfig, err)
		return
	}
	if err := checkLoginModule(module, s.SASLMechanism); err != nil {
		probs.addErr(keySASLJAASConfig, err)
		return
	}
	if s.SASLMechanism == "" {
		return
	}
	// Keys of one mechanism set with another.
	for k, m := range map[string]SASLMechanism{keyOAuthTokenEndpoint: MechanismOAuthBearer, keyOAuthClientID: MechanismOAuthBearer,
		keyOAuthClientSecret: MechanismOAuthBearer, keyOAuthScope: MechanismOAuthBearer, keyOAuthHeaderURLEnc: MechanismOAuthBearer,
		keyLoginCallback: MechanismOAuthBearer, keyLoginConnectTimeout: MechanismOAuthBearer, keyLoginReadTimeout: MechanismOAuthBearer,
		keyLoginRefreshBuffer: MechanismOAuthBearer, keyKerberosService: MechanismGSSAPI, keyClientCallback: MechanismAWSMSKIAM} {
		if _, ok := values[k]; ok && s.SASLMechanism != m {
			probs.add(k, "set, but %s=%s: it belongs to %s", keySASLMechanism, s.SASLMechanism, m)
		}
	}
	switch s.SASLMechanism {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		var missing []string
		for _, k := range []string{"username", "password"} {
			if opts[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			probs.add(keySASLJAASConfig, "%s has no %s option", module, strings.Join(missing, " or "))
			return
		}
		s.Username, s.Password = opts["username"], opts["password"]
	case MechanismOAuthBearer:
		s.OAuth = parseOAuthBearer(values, opts, probs, trusted)
	case MechanismGSSAPI:
		s.Kerberos = parseKerberos(values, opts, probs, trusted)
	case MechanismAWSMSKIAM:
		s.AWS = parseAWSIAM(values, opts, probs, trusted)
	}
}

func knownMechanism(m SASLMechanism) bool {
	for _, k := range saslMechanisms {
		if k == m {
			return true
		}
	}
	return false
}

// parseTLS validates the TLS keys, and the stores and keys they name.
func (s *Security) parseTLS(values map[string]string, probs *problems) {
	get := func(k string) string { return strings.TrimSpace(values[k]) }
	s.CALocation = get(keySSLCALocation)
	s.CertificateLocation = get(keySSLCertLocation)
	s.KeyLocation = get(keySSLKeyLocation)
	s.TrustStore = TrustStore{Location: get(keyTrustStoreLocation), Password: values[keyTrustStorePassword],
		Certificates: values[keyTrustStoreCertificates]}
	s.KeyStore = KeyStore{Location: get(keyKeyStoreLocation), Password: values[keyKeyStorePassword],
		Key: values[keyKeyStoreKey], CertificateChain: values[keyKeyStoreChain]}
	s.KeyPassword = values[keySSLKeyPassword]
	var err error
	if s.TrustStore.Type, err = parseStoreType(values, keyTrustStoreType); err != nil {
		probs.addErr(keyTrustStoreType, err)
	}
	if s.KeyStore.Type, err = parseStoreType(values, keyKeyStoreType); err != nil {
		probs.addErr(keyKeyStoreType, err)
	}
	s.parseTLSVersions(values, probs)
	if alg, ok := values[keySSLEndpointIdentAlg]; ok {
		switch strings.ToLower(strings.TrimSpace(alg)) {
		case "https":
		case "":
			s.SkipHostnameVerification = true
		default:
			probs.add(keySSLEndpointIdentAlg, "%q is not https or \"\" (no hostname verification)", alg)
		}
	}
	if !s.Protocol.usesTLS() {
		for _, k := range securityKeyNames() {
			if _, ok := values[k]; ok && strings.HasPrefix(k, "ssl.") {
				probs.add(k, "set, but %s=%s uses no TLS (use SSL or SASL_SSL)", keySecurityProtocol, s.Protocol)
			}
		}
		return
	}
	if len(*probs) > 0 && hasKeyPrefix(*probs, "ssl.") {
		return // a bad store type: the stores cannot be read
	}
	if _, err := s.tlsConfig(); err != nil {
		for _, fe := range FieldErrors(err) {
			*probs = append(*probs, fe)
		}
	}
}

func hasKeyPrefix(probs problems, prefix string) bool {
	for _, p := range probs {
		var fe *FieldError
		if errors.As(p, &fe) && strings.HasPrefix(fe.Key, prefix) {
			return true
		}
	}
	return false
}

func parseStoreType(values map[string]string, key string) (StoreType, error) {
	v, ok := values[key]
	if !ok {
		return "", nil
	}
	switch t := StoreType(strings.ToUpper(strings.TrimSpace(v))); t {
	case StoreJKS, StorePKCS12, StorePEM:
		return t, nil
	case "JCEKS", "BCFKS", "PKCS11":
		return "", fmt.Errorf("%q is not supported: use JKS, PKCS12 or PEM (keytool -importkeystore -deststoretype PKCS12 converts a store)", v)
	}
	return "", fmt.Errorf("%q is not one of JKS, PKCS12, PEM", v)
}

// FilePaths returns the files of the daemon's host that configs name, by key: ssl.*.location, the keytab and ticket
// cache of a GSSAPI sasl.jaas.config, and a file:// OAUTHBEARER token endpoint. The daemon refuses such configs
// over its admin API unless the files lie under admin.allowed.file.dirs.
func FilePaths(configs map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{keySSLCALocation, keySSLCertLocation, keySSLKeyLocation, keyTrustStoreLocation, keyKeyStoreLocation} {
		if v := strings.TrimSpace(configs[k]); v != "" {
			out[k] = v
		}
	}
	if v := strings.TrimSpace(configs[keyOAuthTokenEndpoint]); strings.HasPrefix(strings.ToLower(v), "file:") {
		out[keyOAuthTokenEndpoint] = strings.TrimPrefix(strings.TrimPrefix(v, "file:"), "//")
	}
	if module, opts, err := parseJAASConfig(configs[keySASLJAASConfig]); err == nil && module == krb5LoginModule {
		for _, o := range []string{"keyTab", "ticketCache"} {
			if v := strings.TrimSpace(opts[o]); v != "" {
				out[keySASLJAASConfig+" "+o] = v
			}
		}
	}
	return out
}

// tlsVersions are the versions ssl.protocol and ssl.enabled.protocols may name, with Java's names.
var tlsVersions = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

func tlsVersionName(v uint16) string {
	for n, x := range tlsVersions {
		if x == v {
			return n
		}
	}
	return "TLSv1.3"
}

// parseTLSVersions applies ssl.protocol (the highest version, as Java's SSLContext protocol), ssl.enabled.protocols
// (the versions offered) and ssl.cipher.suites (IANA names, for TLS 1.2: Go does not let TLS 1.3's be chosen).
func (s *Security) parseTLSVersions(values map[string]string, probs *problems) {
	version := func(key, name string) (uint16, bool) {
		name = strings.TrimSpace(name)
		if v, ok := tlsVersions[name]; ok {
			return v, true
		}
		switch name {
		case "TLSv1", "TLSv1.1", "SSLv3", "SSL":
			probs.add(key, "%s is not supported: clusterlink offers TLSv1.2 and TLSv1.3 only", name)
		case "TLS":
			return tls.VersionTLS13, true
		default:
			probs.add(key, "%q is not TLSv1.2 or TLSv1.3", name)
		}
		return 0, false
	}
	if v, ok := values[keySSLProtocol]; ok {
		if max, ok := version(keySSLProtocol, v); ok {
			s.MaxTLSVersion = max
		}
	}
	if v, ok := values[keySSLEnabledProtocols]; ok {
		var lo, hi uint16
		for _, name := range strings.Split(v, ",") {
			if strings.TrimSpace(name) == "" {
				continue
			}
			if x, ok := version(keySSLEnabledProtocols, name); ok {
				if lo == 0 || x < lo {
					lo = x
				}
				hi = max(hi, x)
			}
		}
		if lo != 0 {
			s.MinTLSVersion = lo
			if s.MaxTLSVersion == 0 || s.MaxTLSVersion > hi {
				s.MaxTLSVersion = hi
			}
		}
	}
	if s.MinTLSVersion != 0 && s.MaxTLSVersion != 0 && s.MinTLSVersion > s.MaxTLSVersion {
		probs.add(keySSLProtocol, "%s is below every version of %s", tlsVersionName(s.MaxTLSVersion), keySSLEnabledProtocols)
	}
	if v, ok := values[keySSLCipherSuites]; ok {
		var names []string
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if _, ok := cipherSuiteID(name); !ok {
				probs.add(keySSLCipherSuites, "%q is not a cipher suite Go's TLS offers securely (names as IANA's, for example TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
				continue
			}
			names = append(names, name)
		}
		s.CipherSuites = strings.Join(names, ",")
	}
}

// cipherSuiteID finds a secure cipher suite of Go's TLS by its IANA name.
func cipherSuiteID(name string) (uint16, bool) {
	for _, c := range tls.CipherSuites() {
		if c.Name == name {
			return c.ID, true
		}
	}
	return 0, false
}
