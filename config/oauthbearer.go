package config

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// OAUTHBEARER, as Kafka's Java client takes it, in one of two ways:
//
//	client credentials   sasl.oauthbearer.token.endpoint.url=https://idp/token (or file:///path/of/a/token)
//	                     sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler
//	                     sasl.jaas.config=...OAuthBearerLoginModule required clientId="id" clientSecret="secret" scope="s";
//	                     (or Kafka 4.1's sasl.oauthbearer.client.credentials.client.id/.client.secret and sasl.oauthbearer.scope)
//	unsecured (tests)    sasl.jaas.config=...OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";
//	                     an unsigned JWS ({"alg":"none"}) that only Kafka's unsecured validator accepts
//
// The token is fetched when a connection authenticates and kept until sasl.login.refresh.buffer.seconds (default
// 300) before it expires. The client id and secret are sent with HTTP Basic authentication, URL-encoded first with
// sasl.oauthbearer.header.urlencode=true, as Kafka does.

const (
	oauthLoginCallbackHandler       = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
	oauthLoginCallbackHandlerLegacy = "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler"
)

// OAuthBearer is how an OAUTHBEARER client gets its token. It is comparable; String hides the client secret.
type OAuthBearer struct {
	TokenEndpointURL string // https://, http:// or file://
	ClientID         string
	ClientSecret     string
	Scope            string
	HeaderURLEncode  bool
	// UnsecuredSubject is unsecuredLoginStringClaim_sub: the client makes its own unsigned token (tests).
	UnsecuredSubject  string
	UnsecuredLifetime time.Duration
	ConnectTimeout    time.Duration // sasl.login.connect.timeout.ms; 0 is 10s
	ReadTimeout       time.Duration // sasl.login.read.timeout.ms; 0 is 30s
	RefreshBuffer     time.Duration // sasl.login.refresh.buffer.seconds; 0 is 300s
}

func (o OAuthBearer) String() string {
	if o == (OAuthBearer{}) {
		return "{}"
	}
	return fmt.Sprintf("{TokenEndpointURL:%s ClientID:%s ClientSecret:%s Scope:%s UnsecuredSubject:%s}", o.TokenEndpointURL,
		o.ClientID, maskedIf(o.ClientSecret != ""), o.Scope, o.UnsecuredSubject)
}

// parseOAuthBearer reads the OAUTHBEARER settings from the keys and the JAAS options.
func parseOAuthBearer(values, opts map[string]string, probs *problems, trusted bool) OAuthBearer {
	o := OAuthBearer{
		TokenEndpointURL: strings.TrimSpace(values[keyOAuthTokenEndpoint]),
		ClientID:         firstSet(values[keyOAuthClientID], opts["clientId"]),
		ClientSecret:     firstSet(values[keyOAuthClientSecret], opts["clientSecret"]),
		Scope:            firstSet(values[keyOAuthScope], opts["scope"]),
		UnsecuredSubject: opts["unsecuredLoginStringClaim_sub"],
	}
	if v, ok := values[keyOAuthHeaderURLEnc]; ok {
		b, err := parseBool(v)
		if err != nil {
			probs.addErr(keyOAuthHeaderURLEnc, err)
		}
		o.HeaderURLEncode = b
	}
	for key, d := range map[string]*time.Duration{keyLoginConnectTimeout: &o.ConnectTimeout, keyLoginReadTimeout: &o.ReadTimeout} {
		if v, ok := values[key]; ok {
			ms, err := parseInt(v, 1, 3_600_000)
			if err != nil {
				probs.addErr(key, err)
			}
			*d = time.Duration(ms) * time.Millisecond
		}
	}
	if v, ok := values[keyLoginRefreshBuffer]; ok {
		// Kafka's range: 0 to 3600 seconds.
		n, err := parseInt(v, 0, 3600)
		if err != nil {
			probs.addErr(keyLoginRefreshBuffer, err)
		}
		o.RefreshBuffer = time.Duration(n) * time.Second
	}
	if v, ok := opts["unsecuredLoginLifetimeSeconds"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 86400*365 {
			probs.add(keySASLJAASConfig, "option unsecuredLoginLifetimeSeconds is not a whole number of seconds between 1 and a year")
		}
		o.UnsecuredLifetime = time.Duration(n) * time.Second
	}
	if v, ok := values[keyLoginCallback]; ok {
		switch strings.TrimSpace(v) {
		case oauthLoginCallbackHandler, oauthLoginCallbackHandlerLegacy:
		default:
			probs.add(keyLoginCallback, "not supported: clusterlink's OAUTHBEARER login is Kafka's %s (client credentials against "+
				"%s) or the unsecured login; set that class or remove the key", oauthLoginCallbackHandler, keyOAuthTokenEndpoint)
		}
	}

	switch {
	case o.TokenEndpointURL != "" && o.UnsecuredSubject != "":
		probs.add(keySASLJAASConfig, "option unsecuredLoginStringClaim_sub makes an unsecured token, but %s is set: use one or the other", keyOAuthTokenEndpoint)
	case o.TokenEndpointURL != "":
		u, err := url.Parse(o.TokenEndpointURL)
		switch {
		case err != nil || u.Host == "" && u.Scheme != "file":
			probs.add(keyOAuthTokenEndpoint, "is not an http://, https:// or file:// URL")
		case u.Scheme == "file":
			if !trusted {
				probs.add(keyOAuthTokenEndpoint, "a file:// token endpoint reads a file of the daemon's host: declare such a link in the daemon's file")
			} else if _, err := os.Stat(u.Path); err != nil {
				probs.add(keyOAuthTokenEndpoint, "cannot read the token file: %v", err)
			}
		case u.Scheme != "https" && u.Scheme != "http":
			probs.add(keyOAuthTokenEndpoint, "is not an http://, https:// or file:// URL")
		default:
			if o.ClientID == "" {
				probs.add(keySASLJAASConfig, "the client credentials grant needs a client id: option clientId, or %s", keyOAuthClientID)
			}
			if o.ClientSecret == "" {
				probs.add(keySASLJAASConfig, "the client credentials grant needs a client secret: option clientSecret, or %s", keyOAuthClientSecret)
			}
		}
	case o.UnsecuredSubject == "":
		probs.add(keySASLJAASConfig, "%s needs %s with options clientId and clientSecret (client credentials), or option "+
			"unsecuredLoginStringClaim_sub (Kafka's unsecured tokens, for tests)", oauthLoginModule, keyOAuthTokenEndpoint)
	}
	return o
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mechanism returns the franz-go OAUTHBEARER mechanism, with a token source of its own.
func (o OAuthBearer) mechanism() (sasl.Mechanism, error) {
	ts := &tokenSource{cfg: o, now: time.Now}
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		tok, err := ts.token(ctx)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok}, nil
	}), nil
}

// tokenSource fetches and keeps one OAUTHBEARER token.
type tokenSource struct {
	cfg OAuthBearer
	now func() time.Time

	mu      sync.Mutex
	tok     string
	expires time.Time
}

func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	buffer := ts.cfg.RefreshBuffer
	if buffer == 0 {
		buffer = 300 * time.Second
	}
	now := ts.now()
	if ts.tok != "" && now.Add(buffer).Before(ts.expires) {
		return ts.tok, nil
	}
	var tok string
	var exp time.Time
	var err error
	switch {
	case ts.cfg.UnsecuredSubject != "":
		tok, exp = unsecuredToken(ts.cfg.UnsecuredSubject, ts.cfg.UnsecuredLifetime, now)
	case strings.HasPrefix(ts.cfg.TokenEndpointURL, "file:"):
		tok, exp, err = fileToken(ts.cfg.TokenEndpointURL)
	default:
		tok, exp, err = fetchClientCredentials(ctx, ts.cfg, now)
	}
	if err != nil {
		return "", err
	}
	ts.tok, ts.expires = tok, exp
	return tok, nil
}

// unsecuredToken makes the unsigned JWS of Kafka's OAuthBearerUnsecuredLoginCallbackHandler: header
// {"alg":"none"}, claims sub, iat and exp, and an empty signature.
func unsecuredToken(sub string, lifetime time.Duration, now time.Time) (string, time.Time) {
	if lifetime == 0 {
		lifetime = time.Hour
	}
	exp := now.Add(lifetime)
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none"}`))
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iat": now.Unix(), "exp": exp.Unix()})
	return header + "." + enc.EncodeToString(claims) + ".", exp
}

// fileToken reads a token from a file, as Kafka's FileJwtRetriever does; it is read again when it expires.
func fileToken(endpoint string) (string, time.Time, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: not a file:// URL", keyOAuthTokenEndpoint)
	}
	b, err := os.ReadFile(u.Path)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: cannot read the token file: %w", keyOAuthTokenEndpoint, err)
	}
	tok := strings.TrimSpace(string(b))
	exp, err := jwtExpiry(tok)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: the token file %s: %w", keyOAuthTokenEndpoint, u.Path, err)
	}
	return tok, exp, nil
}

// jwtExpiry reads the exp claim of a JWT (without checking its signature: the broker does).
func jwtExpiry(tok string) (time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("the token is not a JWT (three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, errors.New("the token's claims are not base64url")
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, errors.New("the token's claims are not JSON")
	}
	if claims.Exp == nil {
		return time.Time{}, errors.New("the token has no exp claim")
	}
	f, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, errors.New("the token's exp claim is not a number")
	}
	return time.Unix(int64(f), 0), nil
}

// fetchClientCredentials runs the OAuth 2 client credentials grant against the token endpoint. Errors name the
// endpoint and the HTTP status and the OAuth error code, never the secret or the body.
func fetchClientCredentials(ctx context.Context, o OAuthBearer, now time.Time) (string, time.Time, error) {
	connect, read := o.ConnectTimeout, o.ReadTimeout
	if connect == 0 {
		connect = 10 * time.Second
	}
	if read == 0 {
		read = 30 * time.Second
	}
	client := &http.Client{
		Timeout:   connect + read,
		Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: connect}).DialContext, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: connect},
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenEndpointURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %s is not a valid URL", keyOAuthTokenEndpoint, o.TokenEndpointURL)
	}
	id, secret := o.ClientID, o.ClientSecret
	if o.HeaderURLEncode {
		id, secret = url.QueryEscape(id), url.QueryEscape(secret)
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is named below once
		}
		return "", time.Time{}, fmt.Errorf("OAUTHBEARER token request to %s: %w", o.TokenEndpointURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("OAUTHBEARER token request to %s: reading the answer: %w", o.TokenEndpointURL, err)
	}
	var answer struct {
		AccessToken string       `json:"access_token"`
		ExpiresIn   *json.Number `json:"expires_in"`
		Error       string       `json:"error"`
	}
	_ = json.Unmarshal(body, &answer)
	if resp.StatusCode != http.StatusOK {
		code := ""
		if oauthErrorCode(answer.Error) {
			code = " (" + answer.Error + ")"
		}
		return "", time.Time{}, fmt.Errorf("OAUTHBEARER token request to %s: HTTP %d%s", o.TokenEndpointURL, resp.StatusCode, code)
	}
	if answer.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("OAUTHBEARER token request to %s: the answer has no access_token", o.TokenEndpointURL)
	}
	exp, jwtErr := jwtExpiry(answer.AccessToken)
	if answer.ExpiresIn != nil {
		if n, err := answer.ExpiresIn.Int64(); err == nil && n > 0 {
			exp, jwtErr = now.Add(time.Duration(n)*time.Second), nil
		}
	}
	if jwtErr != nil {
		return "", time.Time{}, fmt.Errorf("OAUTHBEARER token request to %s: no expires_in, and %w", o.TokenEndpointURL, jwtErr)
	}
	return answer.AccessToken, exp, nil
}

// oauthErrorCode reports whether s looks like an OAuth 2 error code (invalid_client, ...), safe to quote.
func oauthErrorCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}
