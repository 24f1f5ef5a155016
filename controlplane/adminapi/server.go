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
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Backend is what the server serves: the daemon implements it. Methods return an *Error to choose the HTTP status
// (NotFound, BadRequest, Conflict); any other error is a 500.
type Backend interface {
	ClusterID() string
	Links(ctx context.Context) ([]Link, error)
	Link(ctx context.Context, link string) (Link, error)
	CreateLink(ctx context.Context, link string, configs map[string]string, validateOnly bool) error
	DeleteLink(ctx context.Context, link string, force bool) error
	LinkConfigs(ctx context.Context, link string) ([]Config, error)
	AlterLinkConfigs(ctx context.Context, link string, set map[string]string, reset []string, validateOnly bool) error
	// Mirrors lists a link's mirrors, or every link's with link "".
	Mirrors(ctx context.Context, link string) ([]Mirror, error)
	Mirror(ctx context.Context, link, mirror string) (Mirror, error)
	// VerifyMirror compares a mirror topic with its source.
	VerifyMirror(ctx context.Context, link, mirror string, o VerifyOptions) (MirrorVerification, error)
	CreateMirror(ctx context.Context, link, sourceTopic, mirrorTopic string, validateOnly bool) error
	// AlterMirrors runs OpPromote, OpFailover, OpPause, OpResume or OpRestart on each topic; one result per topic.
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

// Handler serves the admin API from b. It checks no credentials: the daemon puts its one auth rule (RequireAuth)
// in front of everything it serves.
func Handler(b Backend, log *zap.Logger) http.Handler {
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	const links = "/kafka/v3/clusters/{cluster}/links"
	mux.HandleFunc("GET /kafka/v3/clusters", s.cluster)
	mux.HandleFunc("GET "+links, s.listLinks)
	mux.HandleFunc("POST "+links, s.createLink)
	mux.HandleFunc("GET "+links+"/{link}", s.getLink)
	mux.HandleFunc("DELETE "+links+"/{link}", s.deleteLink)
	mux.HandleFunc("GET "+links+"/{link}/configs", s.linkConfigs)
	mux.HandleFunc("POST "+links+"/{link}/configs:alter", s.alterConfigs)
	mux.HandleFunc("GET "+links+"/{link}/mirrors", s.listMirrors)
	mux.HandleFunc("POST "+links+"/{link}/mirrors", s.createMirror)
	mux.HandleFunc("GET "+links+"/{link}/mirrors/{mirror}", s.getMirror)
	mux.HandleFunc("GET "+links+"/{link}/mirrors/{mirror}/verify", s.verifyMirror)
	for _, op := range []string{OpPromote, OpFailover, OpPause, OpResume, OpRestart} {
		mux.HandleFunc("POST "+links+"/{link}/mirrors:"+op, s.alterMirrors(op))
	}
	mux.HandleFunc("GET "+links+"/{link}/acls", s.linkACLs)
	return s.checkCluster(mux)
}

type server struct {
	b   Backend
	log *zap.Logger
}

// AuthRule is who may use what a daemon serves: with Token, every request carries "Authorization: Bearer
// <token>"; with ClientCertificates, every request comes over a TLS connection whose client certificate the server
// verified. Public paths (health probes, and /metrics when chosen) need neither.
type AuthRule struct {
	Token              string
	ClientCertificates bool
	Public             func(path string) bool
}

// RequireAuth serves next under the rule: other requests are answered 401 with an Error body.
func RequireAuth(rule AuthRule, next http.Handler) http.Handler {
	want := []byte("Bearer " + rule.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule.Public != nil && rule.Public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if rule.ClientCertificates && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			writeError(w, &Error{ErrorCode: http.StatusUnauthorized, Message: "a client certificate signed by the daemon's admin.tls.client.ca is required"})
			return
		}
		if rule.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, &Error{ErrorCode: http.StatusUnauthorized, Message: "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
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

func (s *server) cluster(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Cluster{Kind: "KafkaCluster", ClusterID: s.b.ClusterID()})
}

func (s *server) listLinks(w http.ResponseWriter, r *http.Request) {
	links, err := s.b.Links(r.Context())
	s.answer(w, r, LinkList{Kind: "KafkaLinkDataList", Data: orEmpty(links)}, err)
}

func (s *server) getLink(w http.ResponseWriter, r *http.Request) {
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
	err = s.b.CreateLink(r.Context(), name, configs, validate)
	s.answerStatus(w, r, http.StatusCreated, validate, err)
}

func (s *server) deleteLink(w http.ResponseWriter, r *http.Request) {
	force, ok := boolParam(w, r, "force")
	if !ok {
		return
	}
	err := s.b.DeleteLink(r.Context(), r.PathValue("link"), force)
	s.answerStatus(w, r, http.StatusNoContent, false, err)
}

func (s *server) linkConfigs(w http.ResponseWriter, r *http.Request) {
	configs, err := s.b.LinkConfigs(r.Context(), r.PathValue("link"))
	s.answer(w, r, ConfigList{Kind: "KafkaLinkConfigDataList", Data: orEmpty(configs)}, err)
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
	err := s.b.AlterLinkConfigs(r.Context(), r.PathValue("link"), set, reset, validate)
	s.answerStatus(w, r, http.StatusNoContent, validate, err)
}

func (s *server) listMirrors(w http.ResponseWriter, r *http.Request) {
	link := r.PathValue("link")
	if link == "-" {
		link = ""
	}
	mirrors, err := s.b.Mirrors(r.Context(), link)
	s.answer(w, r, MirrorList{Kind: "KafkaMirrorDataList", Data: orEmpty(mirrors)}, err)
}

func (s *server) getMirror(w http.ResponseWriter, r *http.Request) {
	m, err := s.b.Mirror(r.Context(), r.PathValue("link"), r.PathValue("mirror"))
	s.answer(w, r, m, err)
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
	validate, ok := boolParam(w, r, "validate_only")
	if !ok {
		return
	}
	err := s.b.CreateMirror(r.Context(), r.PathValue("link"), req.SourceTopicName, req.MirrorTopicName, validate)
	s.answerStatus(w, r, http.StatusCreated, validate, err)
}

func (s *server) alterMirrors(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req AlterMirrorsRequest
		if !decode(w, r, &req) {
			return
		}
		if len(req.MirrorTopicNames) == 0 {
			writeError(w, BadRequest("mirror_topic_names is empty: name at least one mirror topic"))
			return
		}
		validate, ok := boolParam(w, r, "validate_only")
		if !ok {
			return
		}
		force, ok := boolParam(w, r, "force")
		if !ok {
			return
		}
		results, err := s.b.AlterMirrors(r.Context(), r.PathValue("link"), op, req.MirrorTopicNames,
			AlterOptions{ValidateOnly: validate, Force: force})
		for i := range results {
			results[i].Kind = "AlterMirrorStatusResponseData"
		}
		s.answer(w, r, AlterMirrorsResponse{Kind: "AlterMirrorStatusResponseDataList", Data: orEmpty(results)}, err)
	}
}

func (s *server) linkACLs(w http.ResponseWriter, r *http.Request) {
	acls, err := s.b.LinkACLs(r.Context(), r.PathValue("link"))
	s.answer(w, r, ACLList{Kind: "KafkaAclDataList", Data: orEmpty(acls)}, err)
}

func (s *server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) answerStatus(w http.ResponseWriter, r *http.Request, status int, validateOnly bool, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if validateOnly {
		status = http.StatusOK
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
