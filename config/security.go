package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// This file holds a Kafka client's security keys, for the source cluster of each link (in the link's configs) and for
// the destination cluster (in the daemon file):
//
//	security.protocol                      PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
//	sasl.mechanism                         PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (required with SASL_*)
//	sasl.jaas.config                       PlainLoginModule or ScramLoginModule with username and password
//	ssl.ca.location                        PEM CA bundle to verify brokers (default: the system roots)
//	ssl.certificate.location               PEM client certificate (chain), with ssl.key.location
//	ssl.key.location                       PEM unencrypted client private key, with ssl.certificate.location
//	ssl.endpoint.identification.algorithm  https (default) | "" to skip hostname verification (the chain is still verified)
//
// Java keystores (ssl.truststore.*, ssl.keystore.*) and Kerberos or OAUTHBEARER are not supported; those keys are
// reported with what to use instead.

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
)

// The security keys.
const (
	keySecurityProtocol    = "security.protocol"
	keySASLMechanism       = "sasl.mechanism"
	keySASLJAASConfig      = "sasl.jaas.config"
	keySSLCALocation       = "ssl.ca.location"
	keySSLCertLocation     = "ssl.certificate.location"
	keySSLKeyLocation      = "ssl.key.location"
	keySSLEndpointIdentAlg = "ssl.endpoint.identification.algorithm"
)

// JAAS login modules and the mechanisms they serve.
const (
	plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// Security is how a client authenticates to and encrypts its connections to one cluster. Its zero value is
// PLAINTEXT. Its String method hides the password, so printing or logging a Security leaks no secret.
type Security struct {
	Protocol SecurityProtocol
	// SASLMechanism, Username and Password come from sasl.mechanism and sasl.jaas.config; set with SASL_* only.
	SASLMechanism SASLMechanism
	Username      string
	Password      string
	// CALocation, CertificateLocation and KeyLocation are PEM files; set with SSL or SASL_SSL only.
	CALocation          string
	CertificateLocation string
	KeyLocation         string
	// SkipHostnameVerification is ssl.endpoint.identification.algorithm="": the broker's certificate chain is
	// verified but not its host name.
	SkipHostnameVerification bool
}

func (s Security) String() string {
	pw := ""
	if s.Password != "" {
		pw = MaskedValue
	}
	return fmt.Sprintf("{Protocol:%s SASLMechanism:%s Username:%s Password:%s CALocation:%s CertificateLocation:%s "+
		"KeyLocation:%s SkipHostnameVerification:%t}", s.Protocol, s.SASLMechanism, s.Username, pw, s.CALocation,
		s.CertificateLocation, s.KeyLocation, s.SkipHostnameVerification)
}

// GoString hides the password from %#v too.
func (s Security) GoString() string { return "config.Security" + s.String() }

// KgoOpts returns the franz-go options for s: kgo.DialTLSConfig for SSL and SASL_SSL, kgo.SASL for SASL_*. It reads
// the PEM files, so it fails if they have changed since the config was parsed.
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
		switch s.SASLMechanism {
		case MechanismPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()))
		case MechanismScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()))
		case MechanismScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("%s: unsupported SASL mechanism %q", keySASLMechanism, s.SASLMechanism)
		}
	}
	return opts, nil
}

// tlsConfig builds the TLS config from the PEM files; its errors are FieldErrors naming the key.
func (s Security) tlsConfig() (*tls.Config, error) {
	var probs problems
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CALocation != "" {
		pem, err := os.ReadFile(s.CALocation)
		switch {
		case err != nil:
			probs.add(keySSLCALocation, "cannot read the CA file: %v", err)
		default:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				probs.add(keySSLCALocation, "%s holds no PEM certificate", s.CALocation)
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case s.CertificateLocation != "" && s.KeyLocation == "":
		probs.add(keySSLKeyLocation, "required with %s", keySSLCertLocation)
	case s.CertificateLocation == "" && s.KeyLocation != "":
		probs.add(keySSLCertLocation, "required with %s", keySSLKeyLocation)
	case s.CertificateLocation != "":
		cert, err := loadKeyPair(s.CertificateLocation, s.KeyLocation)
		if err != nil {
			probs = append(probs, err)
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if s.SkipHostnameVerification {
		// Go verifies the chain and the host name together; skip both and verify the chain alone.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if len(probs) > 0 {
		return nil, probs.join()
	}
	return cfg, nil
}

// loadKeyPair reads the client certificate and key, naming the key of the file at fault. Neither the key's content
// nor tls's message about it (which may quote it) is reported.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLCertLocation, Err: fmt.Errorf("cannot read the certificate: %w", err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation, Err: fmt.Errorf("cannot read the key: %w", err)}
	}
	if strings.Contains(string(keyPEM), "ENCRYPTED") {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation,
			Err: fmt.Errorf("%s holds an encrypted key: clusterlink reads unencrypted PEM keys only", keyFile)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &FieldError{Key: keySSLKeyLocation,
			Err: fmt.Errorf("%s and %s are not a matching PEM certificate and private key", certFile, keyFile)}
	}
	return cert, nil
}

// securityKeys lists the security keys with their defaults, in the order Configs shows them (it sorts anyway).
func securityKeys() []configKey[Security] {
	return []configKey[Security]{
		{name: keySecurityProtocol, def: string(Plaintext), format: func(s *Security) string { return string(s.Protocol) }},
		{name: keySASLMechanism, format: func(s *Security) string { return string(s.SASLMechanism) }},
		{name: keySASLJAASConfig, sensitive: true, format: func(s *Security) string {
			if s.Password == "" && s.Username == "" {
				return ""
			}
			return MaskedValue
		}},
		{name: keySSLCALocation, format: func(s *Security) string { return s.CALocation }},
		{name: keySSLCertLocation, format: func(s *Security) string { return s.CertificateLocation }},
		{name: keySSLKeyLocation, sensitive: true, format: func(s *Security) string { return s.KeyLocation }},
		{name: keySSLEndpointIdentAlg, def: "https", format: func(s *Security) string {
			if s.SkipHostnameVerification {
				return ""
			}
			return "https"
		}},
	}
}

// unsupportedSecurityKey says why a Kafka client security key is not supported and what to use instead, or "".
func unsupportedSecurityKey(key string) string {
	switch key {
	case "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type", "ssl.truststore.certificates":
		return "not supported: clusterlink reads PEM files, not Java truststores; set ssl.ca.location to a PEM CA " +
			"bundle (keytool -exportcert -rfc exports one)"
	case "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type", "ssl.keystore.key",
		"ssl.keystore.certificate.chain", "ssl.key.password":
		return "not supported: clusterlink reads PEM files, not Java keystores or encrypted keys; set " +
			"ssl.certificate.location and ssl.key.location to a PEM certificate and an unencrypted PEM key"
	case "ssl.protocol", "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.provider", "ssl.keymanager.algorithm",
		"ssl.trustmanager.algorithm", "ssl.secure.random.implementation", "ssl.engine.factory.class":
		return "not supported: clusterlink uses Go's TLS defaults (TLS 1.2 or later)"
	case "sasl.client.callback.handler.class", "sasl.login.class", "sasl.login.callback.handler.class":
		return "not supported: clusterlink supports the PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms with " +
			"credentials in sasl.jaas.config"
	}
	for _, p := range []string{"sasl.kerberos.", "sasl.login.", "sasl.oauthbearer."} {
		if strings.HasPrefix(key, p) {
			return "not supported: clusterlink supports the PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms only"
		}
	}
	return ""
}

// parseSecurity validates the security keys in values (already resolved; set tells which the user wrote).
func parseSecurity(values map[string]string, probs *problems) Security {
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

	mechanism, jaas := strings.TrimSpace(get(keySASLMechanism)), get(keySASLJAASConfig)
	if s.Protocol.usesSASL() {
		switch m := SASLMechanism(strings.ToUpper(mechanism)); m {
		case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
			s.SASLMechanism = m
		case "":
			probs.add(keySASLMechanism, "required with %s=%s (one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", keySecurityProtocol, s.Protocol)
		default:
			probs.add(keySASLMechanism, "%q is not supported: use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", mechanism)
		}
		if strings.TrimSpace(jaas) == "" {
			probs.add(keySASLJAASConfig, "required with %s=%s", keySecurityProtocol, s.Protocol)
		} else if err := s.parseJAAS(jaas); err != nil {
			probs.addErr(keySASLJAASConfig, err)
		}
	} else {
		for _, k := range []string{keySASLMechanism, keySASLJAASConfig} {
			if strings.TrimSpace(get(k)) != "" {
				probs.add(k, "set, but %s=%s uses no SASL (use SASL_PLAINTEXT or SASL_SSL)", keySecurityProtocol, s.Protocol)
			}
		}
	}

	s.CALocation = strings.TrimSpace(get(keySSLCALocation))
	s.CertificateLocation = strings.TrimSpace(get(keySSLCertLocation))
	s.KeyLocation = strings.TrimSpace(get(keySSLKeyLocation))
	if alg, ok := values[keySSLEndpointIdentAlg]; ok {
		switch strings.ToLower(strings.TrimSpace(alg)) {
		case "https":
		case "":
			s.SkipHostnameVerification = true
		default:
			probs.add(keySSLEndpointIdentAlg, "%q is not https or \"\" (no hostname verification)", alg)
		}
	}
	if s.Protocol.usesTLS() {
		if _, err := s.tlsConfig(); err != nil {
			for _, fe := range FieldErrors(err) {
				*probs = append(*probs, fe)
			}
		}
	} else {
		for _, k := range []string{keySSLCALocation, keySSLCertLocation, keySSLKeyLocation, keySSLEndpointIdentAlg} {
			if _, ok := values[k]; ok {
				probs.add(k, "set, but %s=%s uses no TLS (use SSL or SASL_SSL)", keySecurityProtocol, s.Protocol)
			}
		}
	}
	return s
}

// parseJAAS sets the SASL username and password from a sasl.jaas.config value:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//
// Option values are double-quoted (with \" and \\ escapes) or bare words; options other than username and password
// are ignored, as Kafka's login modules do. Errors never quote the value.
func (s *Security) parseJAAS(jaas string) error {
	module, opts, err := parseJAASConfig(jaas)
	if err != nil {
		return err
	}
	switch module {
	case plainLoginModule:
		if s.SASLMechanism != "" && s.SASLMechanism != MechanismPlain {
			return fmt.Errorf("%s serves the PLAIN mechanism, but %s is %s (use %s)", module, keySASLMechanism, s.SASLMechanism, scramLoginModule)
		}
	case scramLoginModule:
		if s.SASLMechanism == MechanismPlain {
			return fmt.Errorf("%s serves the SCRAM mechanisms, but %s is PLAIN (use %s)", module, keySASLMechanism, plainLoginModule)
		}
	default:
		// The module is the value's first word: it may be a secret pasted in the wrong place, so only a class name
		// of a known vendor is quoted.
		if knownVendorClass(module) {
			return fmt.Errorf("login module %q is not supported: use %s or %s", module, plainLoginModule, scramLoginModule)
		}
		return fmt.Errorf("the login module is not supported: use %s or %s", plainLoginModule, scramLoginModule)
	}
	var missing []string
	for _, k := range []string{"username", "password"} {
		if opts[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no %s option", module, strings.Join(missing, " or "))
	}
	s.Username, s.Password = opts["username"], opts["password"]
	return nil
}

// parseJAASConfig splits one JAAS login module entry into its class name and options.
func parseJAASConfig(jaas string) (module string, opts map[string]string, err error) {
	p := &jaasScanner{s: jaas}
	module = p.word()
	if module == "" {
		return "", nil, errors.New("expected a login module class name")
	}
	switch flag := p.word(); flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return "", nil, fmt.Errorf("expected a control flag (required, requisite, sufficient or optional) after the login module class name, at character %d", p.i+1)
	}
	opts = map[string]string{}
	for {
		p.blanks()
		if p.i >= len(p.s) {
			return "", nil, errors.New("missing the ';' that ends the login module entry")
		}
		if p.s[p.i] == ';' {
			p.i++
			p.blanks()
			if p.i < len(p.s) {
				return "", nil, fmt.Errorf("unexpected text after ';' at character %d: only one login module is supported", p.i+1)
			}
			return module, opts, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != '=' && !isJAASBlank(p.s[p.i]) && p.s[p.i] != ';' {
			p.i++
		}
		key := p.s[start:p.i]
		if p.i >= len(p.s) || p.s[p.i] != '=' || key == "" {
			return "", nil, fmt.Errorf("expected key=value at character %d", start+1)
		}
		p.i++
		val, err := p.value(optionName(key))
		if err != nil {
			return "", nil, err
		}
		opts[key] = val
	}
}

// knownVendorClass reports whether a login module name is a class of Kafka, the JDK or a cloud vendor (safe to
// quote in an error).
func knownVendorClass(module string) bool {
	for _, p := range []string{"org.apache.kafka.", "com.sun.security.", "software.amazon.", "io.confluent."} {
		if strings.HasPrefix(module, p) {
			return true
		}
	}
	return false
}

// optionName is how an error names a JAAS option: a known option by its name, any other by "an option" (a
// mistyped option name can be a secret).
func optionName(key string) string {
	switch key {
	case "username", "password", "serviceName", "tokenauth", "unsecuredLoginStringClaim_sub":
		return "option " + key
	}
	return "an option"
}

type jaasScanner struct {
	s string
	i int
}

func isJAASBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *jaasScanner) blanks() {
	for p.i < len(p.s) && isJAASBlank(p.s[p.i]) {
		p.i++
	}
}

func (p *jaasScanner) word() string {
	p.blanks()
	start := p.i
	for p.i < len(p.s) && !isJAASBlank(p.s[p.i]) && p.s[p.i] != ';' {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads an option value: a quoted string or a bare word.
func (p *jaasScanner) value(key string) (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			switch c := p.s[p.i]; c {
			case '\\':
				p.i++
				if p.i < len(p.s) {
					b.WriteByte(p.s[p.i])
				}
			case '"':
				p.i++
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("the quoted value of %s has no closing quote", key)
	}
	start := p.i
	for p.i < len(p.s) && !isJAASBlank(p.s[p.i]) && p.s[p.i] != ';' {
		p.i++
	}
	if p.i == start {
		return "", fmt.Errorf("%s has no value", key)
	}
	return p.s[start:p.i], nil
}
