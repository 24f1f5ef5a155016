package config

import (
	"fmt"
	"os"
	"strings"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/kerberos"
)

// GSSAPI (Kerberos), as Kafka's Java client takes it:
//
//	sasl.kerberos.service.name=kafka
//	sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true
//	    keyTab="/etc/security/keytabs/clusterlink.keytab" principal="clusterlink@EXAMPLE.COM";
//
// or useTicketCache=true (with ticketCache="/path", else $KRB5CCNAME, else /tmp/krb5cc_<uid>) for a ticket cache
// kinit filled. The Kerberos configuration is $KRB5_CONFIG, else /etc/krb5.conf (Java's java.security.krb5.conf
// has no client config key). The client is github.com/jcmturner/gokrb5 through franz-go's sasl/kerberos; it renews
// its tickets itself.

// Kerberos is a GSSAPI client's login. It is comparable.
type Kerberos struct {
	ServiceName string // sasl.kerberos.service.name, or JAAS serviceName
	Principal   string // user@REALM (REALM defaults to the krb5.conf default_realm)
	KeyTab      string // keytab file, with useKeyTab=true
	TicketCache string // ccache file, with useTicketCache=true
	Krb5Config  string // the krb5.conf read
}

// krb5ConfigPath is where the Kerberos configuration is read from.
func krb5ConfigPath() string {
	if p := os.Getenv("KRB5_CONFIG"); p != "" {
		return p
	}
	return "/etc/krb5.conf"
}

func parseKerberos(values, opts map[string]string, probs *problems, trusted bool) Kerberos {
	k := Kerberos{ServiceName: firstSet(values[keyKerberosService], opts["serviceName"]), Principal: opts["principal"],
		Krb5Config: krb5ConfigPath()}
	if k.ServiceName == "" {
		probs.add(keyKerberosService, "required with %s=GSSAPI: the Kerberos name of the brokers (usually kafka)", keySASLMechanism)
	}
	useKeyTab, err := jaasBool(opts, "useKeyTab", false)
	if err != nil {
		probs.addErr(keySASLJAASConfig, err)
	}
	useTicketCache, err := jaasBool(opts, "useTicketCache", false)
	if err != nil {
		probs.addErr(keySASLJAASConfig, err)
	}
	switch {
	case useKeyTab:
		k.KeyTab = opts["keyTab"]
		if k.KeyTab == "" {
			probs.add(keySASLJAASConfig, "useKeyTab=true needs option keyTab (the keytab file)")
		}
		if k.Principal == "" {
			probs.add(keySASLJAASConfig, "useKeyTab=true needs option principal (user@REALM)")
		}
	case useTicketCache:
		if !trusted {
			probs.add(keySASLJAASConfig, "useTicketCache=true logs in with the tickets of the daemon's host: declare such a link in the daemon's file, or use useKeyTab=true")
			return k
		}
		k.TicketCache = firstSet(opts["ticketCache"], os.Getenv("KRB5CCNAME"), fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid()))
		k.TicketCache = strings.TrimPrefix(k.TicketCache, "FILE:")
	default:
		probs.add(keySASLJAASConfig, "%s needs useKeyTab=true with keyTab and principal, or useTicketCache=true: clusterlink cannot prompt for a password", krb5LoginModule)
	}
	if len(*probs) == 0 {
		if _, err := k.client(); err != nil {
			addAll(probs, keySASLJAASConfig, err)
		}
	}
	return k
}

// client makes the Kerberos client (it contacts the KDC only when a connection authenticates).
func (k Kerberos) client() (*krbclient.Client, error) {
	if _, err := os.Stat(k.Krb5Config); err != nil {
		return nil, fmt.Errorf("cannot read the Kerberos configuration %s (set KRB5_CONFIG to another file): no such file", k.Krb5Config)
	}
	cfg, err := krbconfig.Load(k.Krb5Config)
	if err != nil {
		// gokrb5's message quotes the file's lines: only that it did not parse is said.
		return nil, fmt.Errorf("cannot read the Kerberos configuration %s (set KRB5_CONFIG to another file): not a valid krb5.conf", k.Krb5Config)
	}
	if k.TicketCache != "" {
		cc, err := credentials.LoadCCache(k.TicketCache)
		if err != nil {
			return nil, fmt.Errorf("cannot read the ticket cache %s (run kinit first)", k.TicketCache)
		}
		cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
		if err != nil {
			return nil, fmt.Errorf("the ticket cache %s holds no usable ticket (run kinit again)", k.TicketCache)
		}
		return cl, nil
	}
	kt, err := keytab.Load(k.KeyTab)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("cannot read the keytab: %w", err)
		}
		return nil, fmt.Errorf("%s is not a keytab file", k.KeyTab)
	}
	user, realm, _ := strings.Cut(k.Principal, "@")
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	if realm == "" {
		return nil, fmt.Errorf("principal %s has no @REALM and %s has no default_realm", k.Principal, k.Krb5Config)
	}
	if !keytabHas(kt, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, user), realm) {
		return nil, fmt.Errorf("the keytab %s has no key for %s@%s", k.KeyTab, user, realm)
	}
	return krbclient.NewWithKeytab(user, realm, kt, cfg, krbclient.DisablePAFXFAST(true)), nil
}

// keytabHas reports whether the keytab holds a key of the principal in realm.
func keytabHas(kt *keytab.Keytab, p types.PrincipalName, realm string) bool {
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && strings.Join(e.Principal.Components, "/") == strings.Join(p.NameString, "/") {
			return true
		}
	}
	return false
}

// mechanism returns the GSSAPI mechanism; the Kerberos client is destroyed with the kgo client.
func (k Kerberos) mechanism() (sasl.Mechanism, error) {
	cl, err := k.client()
	if err != nil {
		return nil, &FieldError{Key: keySASLJAASConfig, Err: err}
	}
	return kerberos.Auth{Client: cl, Service: k.ServiceName}.AsMechanismWithClose(), nil
}
