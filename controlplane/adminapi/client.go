package adminapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a clusterlink daemon's admin API.
type Client struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// NewClient returns a client of the daemon at address (host:port or a full http:// URL), sending token as a bearer
// token when it is not empty.
func NewClient(address, token string) *Client {
	return NewClientWith(address, ClientOptions{Token: token})
}

// ClientOptions are how a client reaches and proves itself to a daemon.
type ClientOptions struct {
	Token string
	// TLS, when set, makes the client speak HTTPS (an address without a scheme gets https://): the daemon's CA and a
	// client certificate for mTLS go here.
	TLS *tls.Config
}

// NewClientWith returns a client of the daemon at address with o.
func NewClientWith(address string, o ClientOptions) *Client {
	base := strings.TrimRight(address, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
		if o.TLS != nil {
			base = "https://" + strings.TrimRight(address, "/")
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = o.TLS
	// No overall timeout: promote waits for lag 0 and is bounded by the daemon, and the caller's ctx.
	return &Client{base: base, token: o.Token, http: &http.Client{Transport: tr}}
}

func (c *Client) linksPath() string { return "/kafka/v3/clusters/-/links" }

func (c *Client) linkPath(link string) string { return c.linksPath() + "/" + url.PathEscape(link) }

func validateOnly(v bool) url.Values { return url.Values{"validate_only": {strconv.FormatBool(v)}} }

// Cluster returns the destination cluster, the one of GET /clusters.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var out ClusterList
	if err := c.do(ctx, http.MethodGet, "/kafka/v3/clusters", nil, nil, &out); err != nil {
		return Cluster{}, err
	}
	if len(out.Data) != 1 {
		return Cluster{}, fmt.Errorf("GET /kafka/v3/clusters: %d clusters, want the daemon's one", len(out.Data))
	}
	return out.Data[0], nil
}

// Links lists the links.
func (c *Client) Links(ctx context.Context) ([]Link, error) {
	var out LinkList
	return out.Data, c.do(ctx, http.MethodGet, c.linksPath(), nil, nil, &out)
}

// Link returns one link.
func (c *Client) Link(ctx context.Context, link string) (Link, error) {
	var out Link
	return out, c.do(ctx, http.MethodGet, c.linkPath(link), nil, nil, &out)
}

// CreateLink creates a link; with validateOnly it only checks the configs.
func (c *Client) CreateLink(ctx context.Context, link string, req CreateLinkRequest, validate bool) error {
	q := validateOnly(validate)
	q.Set("link_name", link)
	return c.do(ctx, http.MethodPost, c.linksPath(), q, req, nil)
}

// DeleteLink deletes a link; with validateOnly it only checks that it could. Without force it refuses while the
// link has mirrors that are not STOPPED.
func (c *Client) DeleteLink(ctx context.Context, link string, force, validate bool) error {
	q := validateOnly(validate)
	q.Set("force", strconv.FormatBool(force))
	return c.do(ctx, http.MethodDelete, c.linkPath(link), q, nil, nil)
}

// LinkConfigs returns a link's configs, sensitive values masked.
func (c *Client) LinkConfigs(ctx context.Context, link string) ([]Config, error) {
	var out ConfigList
	return out.Data, c.do(ctx, http.MethodGet, c.linkPath(link)+"/configs", nil, nil, &out)
}

// LinkConfig returns one config of a link.
func (c *Client) LinkConfig(ctx context.Context, link, name string) (Config, error) {
	var out Config
	return out, c.do(ctx, http.MethodGet, c.linkPath(link)+"/configs/"+url.PathEscape(name), nil, nil, &out)
}

// AlterLinkConfigs sets or deletes link configs (PUT, Confluent's verb).
func (c *Client) AlterLinkConfigs(ctx context.Context, link string, req AlterConfigsRequest, validate bool) error {
	return c.do(ctx, http.MethodPut, c.linkPath(link)+"/configs:alter", validateOnly(validate), req, nil)
}

// Mirrors lists a link's mirror topics, or every link's with link "".
func (c *Client) Mirrors(ctx context.Context, link string) ([]Mirror, error) {
	return c.MirrorsInStatus(ctx, link, "")
}

// MirrorsInStatus lists a link's mirror topics (every link's with link "") in a status (any with status "").
func (c *Client) MirrorsInStatus(ctx context.Context, link, status string) ([]Mirror, error) {
	if link == "" {
		link = "-"
	}
	var q url.Values
	if status != "" {
		q = url.Values{"mirror_status": {status}}
	}
	var out MirrorList
	return out.Data, c.do(ctx, http.MethodGet, c.linkPath(link)+"/mirrors", q, nil, &out)
}

// Mirror returns one mirror topic of a link.
func (c *Client) Mirror(ctx context.Context, link, mirror string) (Mirror, error) {
	var out Mirror
	return out, c.do(ctx, http.MethodGet, c.linkPath(link)+"/mirrors/"+url.PathEscape(mirror), nil, nil, &out)
}

// VerifyMirror compares a mirror topic with its source (see VerifyOptions).
func (c *Client) VerifyMirror(ctx context.Context, link, mirror string, o VerifyOptions) (MirrorVerification, error) {
	q := url.Values{}
	if o.FromOffset >= 0 {
		q.Set("from_offset", strconv.FormatInt(o.FromOffset, 10))
	}
	if o.Sample > 0 {
		q.Set("sample", strconv.FormatInt(o.Sample, 10))
	}
	if len(o.Partitions) > 0 {
		ps := make([]string, len(o.Partitions))
		for i, p := range o.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		q.Set("partitions", strings.Join(ps, ","))
	}
	var out MirrorVerification
	return out, c.do(ctx, http.MethodGet, c.linkPath(link)+"/mirrors/"+url.PathEscape(mirror)+"/verify", q, nil, &out)
}

// CreateMirror creates a mirror topic on a link.
func (c *Client) CreateMirror(ctx context.Context, link string, req CreateMirrorRequest, validate bool) error {
	return c.do(ctx, http.MethodPost, c.linkPath(link)+"/mirrors", validateOnly(validate), req, nil)
}

// Mirror operations.
const (
	OpPromote  = "promote"
	OpFailover = "failover"
	OpPause    = "pause"
	OpResume   = "resume"
	// OpRestart recovers a FAILED mirror: its failed partitions are compared with the source and copy again if they
	// are still exact prefixes of it.
	OpRestart = "restart"
	// Failback (Confluent's names; the link needs link.mode=BIDIRECTIONAL): the old source's topic of a STOPPED
	// mirror becomes a mirror of it, copying from its log end where it is a prefix (reverse-and-start, and
	// reverse-and-pause, which leaves it PAUSED), or after saving its divergent records and recreating it
	// (truncate-and-restore).
	OpReverseAndStart    = "reverse-and-start-mirror"
	OpReverseAndPause    = "reverse-and-pause-mirror"
	OpTruncateAndRestore = "truncate-and-restore"
)

// FailbackOps are the failback operations.
var FailbackOps = []string{OpReverseAndStart, OpReverseAndPause, OpTruncateAndRestore}

// AlterMirrors runs an operation (OpPromote, OpFailover, OpPause, OpResume, OpRestart) on mirror topics of a link. The answer
// holds one result per topic; a topic's failure is in its result, not in the error.
func (c *Client) AlterMirrors(ctx context.Context, link, op string, topics []string, o AlterOptions) ([]AlterMirrorResult, error) {
	var out AlterMirrorsResponse
	query := validateOnly(o.ValidateOnly)
	if o.Force {
		query.Set("force", "true")
	}
	if o.IncludePartitionLevelTruncationData {
		query.Set("include_partition_level_truncation_data", "true")
	}
	err := c.do(ctx, http.MethodPost, c.linkPath(link)+"/mirrors:"+op, query, AlterMirrorsRequest{MirrorTopicNames: topics}, &out)
	return out.Data, err
}

// LinkACLs returns the destination ACLs a link manages, every link's with link "".
func (c *Client) LinkACLs(ctx context.Context, link string) ([]ACL, error) {
	if link == "" {
		link = "-"
	}
	var out ACLList
	return out.Data, c.do(ctx, http.MethodGet, c.linkPath(link)+"/acls", nil, nil, &out)
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) && ctx.Err() == nil {
			return fmt.Errorf("reach the clusterlink daemon at %s (is `clusterlink run` up, and --address right?): %w", c.base, uerr.Err)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			e.ErrorCode = resp.StatusCode
			return &e
		}
		return &Error{ErrorCode: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// DefaultTimeout bounds CLI requests other than promote and failover.
const DefaultTimeout = 30 * time.Second
