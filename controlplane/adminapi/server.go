package adminapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Backend is what the server serves: the daemon implements it. Methods return an *Error to choose the HTTP status
// (NotFound, BadRequest, Conflict); any other error is a 500. The server completes what a Backend answers with
// Confluent's fixed fields (kinds, metadata, ids), filters lists by their query parameters and answers the
// single-config paths from the link's configs.
type Backend interface {
	ClusterID() string
	Links(ctx context.Context) ([]Link, error)
	Link(ctx context.Context, link string) (Link, error)
	CreateLink(ctx context.Context, link string, configs map[string]string, validateOnly bool) error
	// DeleteLink deletes a link; with validateOnly it only checks that it could.
	DeleteLink(ctx context.Context, link string, force, validateOnly bool) error
	LinkConfigs(ctx context.Context, link string) ([]Config, error)
	AlterLinkConfigs(ctx context.Context, link string, set map[string]string, reset []string, validateOnly bool) error
	// Mirrors lists a link's mirrors, or every link's with link "".
	Mirrors(ctx context.Context, link string) ([]Mirror, error)
	Mirror(ctx context.Context, link, mirror string) (Mirror, error)
	// VerifyMirror compares a mirror topic with its source (clusterlink's own).
	VerifyMirror(ctx context.Context, link, mirror string, o VerifyOptions) (MirrorVerification, error)
	CreateMirror(ctx context.Context, link string, req CreateMirrorRequest, validateOnly bool) error
	// AlterMirrors runs OpPromote, OpFailover, OpPause, OpResume, OpRestart or one of FailbackOps on each topic; one
	// result per topic.
	AlterMirrors(ctx context.Context, link, op string, topics []string, o AlterOptions) ([]AlterMirrorResult, error)
	LinkACLs(ctx context.Context, link string) ([]ACL, error)
}

// NotFound, BadRequest and Conflict build the errors a Backend returns to choose the HTTP status.
func NotFound(format string, args ...any) *Error {
	return &Error{ErrorCode: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a request the caller must fix (bad config, unknown operation).
func BadRequest(format string, args ...any) *Error {
	return &Error{ErrorCode: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Conflict is a request that the current state refuses (link exists, mirror not stopped).
func Conflict(format string, args ...any) *Error {
	return &Error{ErrorCode: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

// unsupportedMirrorOps are Confluent's mirror operations clusterlink does not run.
var unsupportedMirrorOps = []string{"promote-local-and-start-remote-mirror", "promote-local-and-pause-remote-mirror"}

// Handler serves the admin API from b. It checks no credentials: the daemon puts its one auth rule (RequireAuth)
// in front of everything it serves.
func Handler(b Backend, log *zap.Logger) http.Handler {
	s := &server{b: b, log: log}
	r := newRouter()
	const cluster = "/kafka/v3/clusters/{cluster}"
	const links = cluster + "/links"
	const link = links + "/{link}"
	r.handle("GET", "/kafka/v3/clusters", s.listClusters)
	r.handle("GET", cluster, s.getCluster)
	r.handle("GET", links, s.listLinks)
	r.handle("POST", links, s.createLink)
	r.handle("GET", link, s.getLink)
	r.handle("DELETE", link, s.deleteLink)
	r.handle("GET", link+"/configs", s.linkConfigs)
	r.handle("GET", link+"/configs/{name}", s.getConfig)
	r.handle("PUT", link+"/configs/{name}", s.putConfig)
	r.handle("DELETE", link+"/configs/{name}", s.deleteConfig)
	r.handle("PUT", link+"/configs:alter", s.alterConfigs) // Confluent's verb
	r.handle("POST", link+"/configs:alter", s.alterConfigs)
	r.handle("GET", link+"/mirrors", s.listMirrors)
	r.handle("POST", link+"/mirrors", s.createMirror)
	r.handle("GET", link+"/mirrors/{mirror}", s.getMirror)
	r.handle("GET", link+"/mirrors/{mirror}/verify", s.verifyMirror)
	for _, op := range append([]string{OpPromote, OpFailover, OpPause, OpResume, OpRestart}, FailbackOps...) {
		r.handle("POST", link+"/mirrors:"+op, s.alterMirrors(op))
	}
	for _, op := range unsupportedMirrorOps {
		r.handle("POST", link+"/mirrors:"+op, func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, BadRequest("mirrors:%s is not supported by clusterlink: the mirror operations are %s, %s, %s, %s, %s and %s",
				op, OpPromote, OpFailover, OpPause, OpResume, OpRestart, strings.Join(FailbackOps, ", ")))
		})
	}
	r.handle("GET", link+"/acls", s.linkACLs)
	r.handle("GET", link+"/daemons", s.linkDaemons)
	return s.checkCluster(r.done())
}

// router routes by path, then by method, answering an unknown path 404 and an unknown method 405 with Confluent's
// error body (http.ServeMux would answer them in text/plain).
type router struct {
	mux     *http.ServeMux
	order   []string
	methods map[string]map[string]http.HandlerFunc
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), methods: map[string]map[string]http.HandlerFunc{}}
}

func (r *router) handle(method, pattern string, h http.HandlerFunc) {
	if r.methods[pattern] == nil {
		r.methods[pattern] = map[string]http.HandlerFunc{}
		r.order = append(r.order, pattern)
	}
	r.methods[pattern][method] = h
}

func (r *router) done() http.Handler {
	for _, pattern := range r.order {
		byMethod := r.methods[pattern]
		var allowed []string
		for m := range byMethod {
			allowed = append(allowed, m)
		}
		slices.Sort(allowed)
		r.mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
			h, ok := byMethod[req.Method]
			if !ok && req.Method == http.MethodHead {
				h, ok = byMethod[http.MethodGet]
			}
			if !ok {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				writeError(w, &Error{ErrorCode: http.StatusMethodNotAllowed,
					Message: fmt.Sprintf("method %s is not allowed on %s: use %s", req.Method, req.URL.Path, strings.Join(allowed, ", "))})
				return
			}
			h(w, req)
		})
	}
	r.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, NotFound("no such path %s: clusterlink serves /kafka/v3/clusters and the cluster-linking paths under /kafka/v3/clusters/{cluster_id}/links", req.URL.Path))
	})
	return r.mux
}

type server struct {
	b   Backend
	log *zap.Logger
}

// AuthRule is who may use what a daemon serves: with Token, every request carries "Authorization: Bearer <token>"
// or HTTP Basic credentials whose password is the token (the username is not checked: Confluent scripts send an API
// key there and the secret as the password); with ClientCertificates, every request comes over a TLS connection
// whose client certificate the server verified. Public paths (health probes, and /metrics when chosen) need neither.
type AuthRule struct {
	Token              string
	ClientCertificates bool
	Public             func(path string) bool
}

// RequireAuth serves next under the rule: other requests are answered 401 with an Error body.
func RequireAuth(rule AuthRule, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule.Public != nil && rule.Public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if rule.ClientCertificates && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			writeError(w, &Error{ErrorCode: http.StatusUnauthorized, Message: "a client certificate signed by the daemon's admin.tls.client.ca is required"})
			return
		}
		if rule.Token != "" && !tokenGiven(r, rule.Token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="clusterlink", charset="UTF-8"`)
			writeError(w, &Error{ErrorCode: http.StatusUnauthorized,
				Message: "missing or wrong credentials: send the admin token as a bearer token, or as the password of HTTP Basic auth"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RefuseCrossOrigin answers 403, with an Error body, a request that changes something (any method but GET, HEAD and
// OPTIONS) when the browser that sent it says it comes from another site's page (Sec-Fetch-Site, or an Origin
// that is not the Host): credentials a browser sends on its own (HTTP Basic, client certificates) must not let
// another site promote or delete. Clients that are not browsers send neither header and are not affected.
func RefuseCrossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{ErrorCode: http.StatusForbidden,
			Message: fmt.Sprintf("%s %s from another site's page is refused: the admin API changes nothing on a cross-origin browser request", r.Method, r.URL.Path)})
	}))
	return cop.Handler(next)
}

// tokenGiven says whether r carries the token as a bearer token or as a Basic password, compared in constant time.
func tokenGiven(r *http.Request, token string) bool {
	given := ""
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = bearer
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1
}

// checkCluster refuses a cluster id in the path that is not the destination's ("-" means this one).
func (s *server) checkCluster(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/kafka/v3/clusters/"
		if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
			id, _, _ := strings.Cut(rest, "/")
			if id != "-" && id != s.b.ClusterID() {
				writeError(w, NotFound("cluster %s not found: this daemon writes to cluster %s", id, s.b.ClusterID()))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) clusterPath() string { return "/kafka/v3/clusters/" + s.b.ClusterID() }

func (s *server) linkPath(link string) string { return s.clusterPath() + "/links/" + link }

func listMeta(self string) ListMetadata { return ListMetadata{Self: self} }

func (s *server) clusterData() Cluster {
	self := s.clusterPath()
	rel := func(p string) Relationship { return Relationship{Related: self + p} }
	return Cluster{Kind: "KafkaCluster", Metadata: Metadata{Self: self, ResourceName: "crn:///kafka=" + s.b.ClusterID()},
		ClusterID: s.b.ClusterID(), ACLs: rel("/acls"), Brokers: rel("/brokers"), BrokerConfigs: rel("/broker-configs"),
		ConsumerGroups: rel("/consumer-groups"), Topics: rel("/topics"),
		PartitionReassignments: rel("/topics/-/partitions/-/reassignment")}
}

func (s *server) listClusters(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, ClusterList{Kind: "KafkaClusterList", Metadata: listMeta("/kafka/v3/clusters"),
		Data: []Cluster{s.clusterData()}})
}

func (s *server) getCluster(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.clusterData())
}

func (s *server) listLinks(w http.ResponseWriter, r *http.Request) {
	links, err := s.b.Links(r.Context())
	s.answer(w, r, LinkList{Kind: "KafkaLinkDataList", Metadata: listMeta(s.clusterPath() + "/links"), Data: orEmpty(links)}, err)
}

func (s *server) getLink(w http.ResponseWriter, r *http.Request) {
	if _, ok := boolParam(w, r, "include_tasks"); !ok { // tasks are always included
		return
	}
	link, err := s.b.Link(r.Context(), r.PathValue("link"))
	s.answer(w, r, link, err)
}

func (s *server) createLink(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("link_name")
	if name == "" {
		writeError(w, BadRequest("link_name is required"))
		return
	}
	var req CreateLinkRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.DestinationClusterID != "" && req.DestinationClusterID != s.b.ClusterID():
		writeError(w, BadRequest("destination_cluster_id %s: clusterlink runs destination-initiated links on the cluster it writes to, %s; create the link on the daemon of that destination",
			req.DestinationClusterID, s.b.ClusterID()))
		return
	case req.RemoteClusterID != "" || req.ClusterLinkID != "":
		writeError(w, BadRequest("remote_cluster_id and cluster_link_id are for bidirectional links, which clusterlink does not run: create a destination-initiated link with source_cluster_id and the source's bootstrap.servers"))
		return
	}
	given, err := configMap(req.Configs)
	if err != nil {
		writeError(w, err.(*Error))
		return
	}
	configs := map[string]string{}
	for _, c := range given {
		configs[c.Name] = c.Value
	}
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	// validate_link (default true) asks Confluent to reach the source at once; clusterlink's link reaches it on its
	// first availability check and reports it in link_state. Accepted, checked for its form only.
	if _, ok := boolParam(w, r, "validate_link"); !ok {
		return
	}
	err = s.b.CreateLink(r.Context(), name, configs, validate)
	s.answerStatus(w, r, http.StatusNoContent, err)
}

func (s *server) deleteLink(w http.ResponseWriter, r *http.Request) {
	force, ok := boolParam(w, r, "force")
	if !ok {
		return
	}
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	err := s.b.DeleteLink(r.Context(), r.PathValue("link"), force, validate)
	s.answerStatus(w, r, http.StatusOK, err) // Confluent: 200 with no content
}

func (s *server) configs(r *http.Request) ([]Config, error) {
	link := r.PathValue("link")
	configs, err := s.b.LinkConfigs(r.Context(), link)
	for i := range configs {
		c := &configs[i]
		c.Kind, c.Metadata = "KafkaLinkConfigData", Metadata{Self: s.linkPath(link) + "/configs/" + c.Name}
		c.ClusterID, c.LinkName = s.b.ClusterID(), link
		c.IsDefault, c.IsReadOnly, c.IsSensitive = c.Source == "DEFAULT_CONFIG", c.ReadOnly, c.Sensitive
		c.Synonyms = orEmpty(c.Synonyms)
	}
	return configs, err
}

func (s *server) linkConfigs(w http.ResponseWriter, r *http.Request) {
	configs, err := s.configs(r)
	s.answer(w, r, ConfigList{Kind: "KafkaLinkConfigDataList", Metadata: listMeta(s.linkPath(r.PathValue("link")) + "/configs"),
		Data: orEmpty(configs)}, err)
}

func (s *server) getConfig(w http.ResponseWriter, r *http.Request) {
	configs, err := s.configs(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	for _, c := range configs {
		if c.Name == name {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeError(w, NotFound("link %s has no config %s", r.PathValue("link"), name))
}

func (s *server) putConfig(w http.ResponseWriter, r *http.Request) {
	var req UpdateConfigRequest
	if !decode(w, r, &req) {
		return
	}
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	err := s.b.AlterLinkConfigs(r.Context(), r.PathValue("link"), map[string]string{r.PathValue("name"): req.Value}, nil, validate)
	s.answerStatus(w, r, http.StatusNoContent, err)
}

func (s *server) deleteConfig(w http.ResponseWriter, r *http.Request) {
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	err := s.b.AlterLinkConfigs(r.Context(), r.PathValue("link"), map[string]string{}, []string{r.PathValue("name")}, validate)
	s.answerStatus(w, r, http.StatusNoContent, err)
}

func (s *server) alterConfigs(w http.ResponseWriter, r *http.Request) {
	var req AlterConfigsRequest
	if !decode(w, r, &req) {
		return
	}
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	if _, err := configMap(req.Data); err != nil {
		writeError(w, err.(*Error))
		return
	}
	set := map[string]string{}
	var reset []string
	for _, c := range req.Data {
		switch strings.ToUpper(c.Operation) {
		case "", "SET":
			set[c.Name] = c.Value
		case "DELETE":
			reset = append(reset, c.Name)
		default:
			writeError(w, BadRequest("config %s: operation %q is not SET or DELETE", c.Name, c.Operation))
			return
		}
	}
	err := s.b.AlterLinkConfigs(r.Context(), r.PathValue("link"), set, reset, validate || req.ValidateOnly)
	s.answerStatus(w, r, http.StatusNoContent, err)
}

// ParseMirrorStatus returns the mirror status s names (any case), or an error listing the statuses.
func ParseMirrorStatus(s string) (string, error) {
	up := strings.ToUpper(s)
	if slices.Contains(MirrorStatuses, up) {
		return up, nil
	}
	return "", BadRequest("mirror_status %q is not a mirror status: use one of %s", s, strings.Join(MirrorStatuses, ", "))
}

// mirror completes a Backend's mirror with Confluent's fixed fields.
func (s *server) mirror(m Mirror) Mirror {
	m.Kind = "KafkaMirrorData"
	if m.Metadata.Self == "" {
		m.Metadata.Self = s.linkPath(m.LinkName) + "/mirrors/" + m.MirrorTopicName
	}
	if m.MirrorTopicError == "" {
		m.MirrorTopicError = "NO_ERROR"
	}
	m.MirrorLags = orEmpty(m.MirrorLags)
	m.MirrorStateTransitionErrors = orEmpty(m.MirrorStateTransitionErrors)
	return m
}

func (s *server) listMirrors(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("mirror_status")
	if status != "" {
		var err error
		if status, err = ParseMirrorStatus(status); err != nil {
			writeError(w, err.(*Error))
			return
		}
	}
	link := r.PathValue("link")
	if link == "-" {
		link = ""
	}
	mirrors, err := s.b.Mirrors(r.Context(), link)
	out := []Mirror{}
	for _, m := range mirrors {
		if status == "" || m.MirrorStatus == status {
			out = append(out, s.mirror(m))
		}
	}
	s.answer(w, r, MirrorList{Kind: "KafkaMirrorDataList", Metadata: listMeta(s.linkPath(r.PathValue("link")) + "/mirrors"), Data: out}, err)
}

func (s *server) getMirror(w http.ResponseWriter, r *http.Request) {
	// State transition errors are always included.
	if _, ok := boolParam(w, r, "include_state_transition_errors"); !ok {
		return
	}
	m, err := s.b.Mirror(r.Context(), r.PathValue("link"), r.PathValue("mirror"))
	s.answer(w, r, s.mirror(m), err)
}

func (s *server) verifyMirror(w http.ResponseWriter, r *http.Request) {
	o, verr := verifyOptions(r.URL.Query())
	if verr != nil {
		writeError(w, verr)
		return
	}
	v, err := s.b.VerifyMirror(r.Context(), r.PathValue("link"), r.PathValue("mirror"), o)
	if err == nil {
		v.Kind = "MirrorVerificationData"
		v.Partitions = orEmpty(v.Partitions)
	}
	s.answer(w, r, v, err)
}

// verifyOptions reads from_offset, sample and partitions, reporting every bad one at once.
func verifyOptions(q url.Values) (VerifyOptions, *Error) {
	o := VerifyOptions{FromOffset: -1}
	var bad []string
	if v := q.Get("from_offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, fmt.Sprintf("from_offset=%q is not an offset (0 or more)", v))
		}
		o.FromOffset = n
	}
	if v := q.Get("sample"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad = append(bad, fmt.Sprintf("sample=%q is not a number of offsets (1 or more)", v))
		}
		o.Sample = n
	}
	if v := q.Get("partitions"); v != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || n < 0 {
				bad = append(bad, fmt.Sprintf("partitions: %q is not a partition number", f))
				continue
			}
			o.Partitions = append(o.Partitions, int32(n))
		}
	}
	if len(bad) > 0 {
		return o, BadRequest("%s", strings.Join(bad, "; "))
	}
	return o, nil
}

func (s *server) createMirror(w http.ResponseWriter, r *http.Request) {
	var req CreateMirrorRequest
	if !decode(w, r, &req) {
		return
	}
	if req.SourceTopicName == "" && req.MirrorTopicName == "" {
		writeError(w, BadRequest("source_topic_name or mirror_topic_name is required"))
		return
	}
	if req.ReplicationFactor < -1 {
		writeError(w, BadRequest("replication_factor %d: give a positive replication factor, or -1", req.ReplicationFactor))
		return
	}
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	err := s.b.CreateMirror(r.Context(), r.PathValue("link"), req, validate)
	s.answerStatus(w, r, http.StatusNoContent, err)
}

// mirrorTopics resolves a request's topics: its names, or the link's mirror topics its pattern matches whole.
func (s *server) mirrorTopics(r *http.Request, req AlterMirrorsRequest) ([]string, error) {
	switch {
	case req.MirrorTopicNamePattern != "" && len(req.MirrorTopicNames) > 0:
		return nil, BadRequest("give mirror_topic_names or mirror_topic_name_pattern, not both")
	case req.MirrorTopicNamePattern == "":
		if len(req.MirrorTopicNames) == 0 {
			return nil, BadRequest("mirror_topic_names is empty: name at least one mirror topic, or give mirror_topic_name_pattern")
		}
		return req.MirrorTopicNames, nil
	}
	re, err := regexp.Compile("^(?:" + req.MirrorTopicNamePattern + ")$")
	if err != nil {
		return nil, BadRequest("mirror_topic_name_pattern %q is not a regular expression: %v", req.MirrorTopicNamePattern, err)
	}
	mirrors, err := s.b.Mirrors(r.Context(), r.PathValue("link"))
	if err != nil {
		return nil, err
	}
	topics := []string{}
	for _, m := range mirrors {
		if re.MatchString(m.MirrorTopicName) {
			topics = append(topics, m.MirrorTopicName)
		}
	}
	return topics, nil
}

func (s *server) alterMirrors(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req AlterMirrorsRequest
		if !decode(w, r, &req) {
			return
		}
		validate, ok := boolParam(w, r, "validate_only")
		if !ok {
			return
		}
		// force is clusterlink's: promote or fail over a mirror that diverged from its source.
		force, ok := boolParam(w, r, "force")
		if !ok {
			return
		}
		// include_partition_level_truncation_data is Confluent's, for the failback operations.
		truncation, ok := boolParam(w, r, "include_partition_level_truncation_data")
		if !ok {
			return
		}
		topics, err := s.mirrorTopics(r, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var results []AlterMirrorResult
		if len(topics) > 0 {
			results, err = s.b.AlterMirrors(r.Context(), r.PathValue("link"), op, topics, AlterOptions{ValidateOnly: validate, Force: force,
				IncludePartitionLevelTruncationData: truncation})
		}
		for i := range results {
			res := &results[i]
			res.Kind = "AlterMirrorsData"
			res.Metadata = Metadata{Self: s.linkPath(r.PathValue("link")) + "/mirrors/" + res.MirrorTopicName}
			res.MirrorLags = orEmpty(res.MirrorLags)
			res.PartitionLevelTruncationData = orEmpty(res.PartitionLevelTruncationData)
		}
		s.answer(w, r, AlterMirrorsResponse{Kind: "KafkaPromoteMirror", Metadata: listMeta(s.linkPath(r.PathValue("link")) + "/mirrors"),
			Data: orEmpty(results)}, err)
	}
}

func (s *server) linkACLs(w http.ResponseWriter, r *http.Request) {
	link := r.PathValue("link")
	names := []string{link}
	if link == "-" {
		links, err := s.b.Links(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		names = names[:0]
		for _, l := range links {
			names = append(names, l.LinkName)
		}
	}
	out := []ACL{}
	for _, name := range names {
		acls, err := s.b.LinkACLs(r.Context(), name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, a := range acls {
			a.LinkName = name
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, ACLList{Kind: "KafkaAclDataList", Metadata: listMeta(s.linkPath(link) + "/acls"), Data: out})
}

func (s *server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// answerStatus answers a change with no content: Confluent answers the same status with validate_only.
func (s *server) answerStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(status)
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		s.log.Error("admin request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		apiErr = &Error{ErrorCode: http.StatusInternalServerError, Message: err.Error()}
	}
	writeError(w, apiErr)
}

func writeError(w http.ResponseWriter, e *Error) { writeJSON(w, e.ErrorCode, e) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

// decode reads a request body of one JSON value. Unknown fields are ignored, as Confluent's API contract says;
// anything after the value is refused (a body is one value, not a stream).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, BadRequest("request body: %v", err))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, BadRequest("request body: more than one JSON value"))
		return false
	}
	return true
}

// configMap turns a request's configs into a map, refusing a name given twice (which one would win is a guess).
func configMap(configs []ConfigValue) (map[string]ConfigValue, error) {
	out := make(map[string]ConfigValue, len(configs))
	for _, c := range configs {
		if _, dup := out[c.Name]; dup {
			return nil, BadRequest("config %s is given twice", c.Name)
		}
		out[c.Name] = c
	}
	return out, nil
}

func boolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeError(w, BadRequest("%s=%q is not true or false", name, v))
		return false, false
	}
	return b, true
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
