package config

import (
	"errors"
	"fmt"
	"strings"
)

// sasl.jaas.config holds one JAAS login module entry, as Kafka's Java client takes it:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//
// Option values are double-quoted (with \" and \\ escapes) or bare words; options a module does not use are
// ignored, as Kafka's login modules do. Errors never quote a value.

// The JAAS login modules and the mechanisms they serve.
const (
	plainLoginModule  = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramLoginModule  = "org.apache.kafka.common.security.scram.ScramLoginModule"
	oauthLoginModule  = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
	krb5LoginModule   = "com.sun.security.auth.module.Krb5LoginModule"
	awsIAMLoginModule = "software.amazon.msk.auth.iam.IAMLoginModule"
)

// loginModuleOf is the login module each mechanism takes.
func loginModuleOf(m SASLMechanism) string {
	switch m {
	case MechanismPlain:
		return plainLoginModule
	case MechanismScramSHA256, MechanismScramSHA512:
		return scramLoginModule
	case MechanismOAuthBearer:
		return oauthLoginModule
	case MechanismGSSAPI:
		return krb5LoginModule
	case MechanismAWSMSKIAM:
		return awsIAMLoginModule
	}
	return ""
}

// mechanismsOf names the mechanisms a login module serves, or "".
func mechanismsOf(module string) string {
	switch module {
	case plainLoginModule:
		return "the PLAIN mechanism"
	case scramLoginModule:
		return "the SCRAM mechanisms"
	case oauthLoginModule:
		return "the OAUTHBEARER mechanism"
	case krb5LoginModule:
		return "the GSSAPI mechanism"
	case awsIAMLoginModule:
		return "the AWS_MSK_IAM mechanism"
	}
	return ""
}

// checkLoginModule checks that module serves mechanism (when mechanism is known).
func checkLoginModule(module string, mechanism SASLMechanism) error {
	serves := mechanismsOf(module)
	if serves == "" {
		// The module is the value's first word: it may be a secret pasted in the wrong place, so only a class name
		// of a known vendor is quoted.
		use := "use the login module of sasl.mechanism"
		if m := loginModuleOf(mechanism); m != "" {
			use = "use " + m
		}
		if knownVendorClass(module) {
			return fmt.Errorf("login module %q is not supported: %s", module, use)
		}
		return fmt.Errorf("the login module is not supported: %s", use)
	}
	if mechanism == "" || loginModuleOf(mechanism) == module {
		return nil
	}
	return fmt.Errorf("%s serves %s, but %s is %s (use %s)", module, serves, keySASLMechanism, mechanism, loginModuleOf(mechanism))
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
	for _, p := range []string{"org.apache.kafka.", "com.sun.security.", "software.amazon.", "io.confluent.", "com.ibm.security."} {
		if strings.HasPrefix(module, p) {
			return true
		}
	}
	return false
}

// jaasOptionNames are the options of the supported login modules: an error may name them. Any other is "an option"
// (a mistyped option name can be a secret).
var jaasOptionNames = []string{"username", "password", "serviceName", "tokenauth", "unsecuredLoginStringClaim_sub",
	"unsecuredLoginLifetimeSeconds", "clientId", "clientSecret", "scope", "useKeyTab", "keyTab", "principal",
	"useTicketCache", "ticketCache", "storeKey", "doNotPrompt", "debug", "awsProfileName", "awsRoleArn"}

func optionName(key string) string {
	for _, k := range jaasOptionNames {
		if k == key {
			return "option " + key
		}
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

// jaasBool reads a JAAS boolean option (true or false, any case); absent is def.
func jaasBool(opts map[string]string, key string, def bool) (bool, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return false, fmt.Errorf("option %s is not true or false", key)
	}
	return b, nil
}
