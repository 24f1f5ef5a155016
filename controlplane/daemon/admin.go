package daemon

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

// This file is the admin listener: HTTPS when the daemon's file gives a certificate, one auth rule for everything
// it serves (the API, /metrics, pprof), and the rule that files named by configs given over the API must lie under
// a directory the daemon's file allows.

// publicPaths need no credentials: probes, and /metrics when admin.metrics.public is set.
func (d *Daemon) publicPath(path string) bool {
	return path == "/healthz" || path == "/readyz" || (path == "/metrics" && d.cfg.Admin.MetricsPublic)
}

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/kafka/", adminapi.Handler(d, d.log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			http.Error(w, "starting links", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", d.metricsHandler())
	if d.opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return adminapi.RequireAuth(adminapi.AuthRule{
		Token: d.cfg.Admin.Token, ClientCertificates: d.cfg.Admin.TLSClientCA != "", Public: d.publicPath,
	}, mux)
}

// listen opens the admin listener, with TLS (and client certificates verified when given) where the file asks.
func (d *Daemon) listen() (net.Listener, error) {
	a := d.cfg.Admin
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin API: listen on %s: %w", a.Listen, err)
	}
	if a.TLSCertificate == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(a.TLSCertificate, a.TLSKey)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin API: load %s and %s: %w", a.TLSCertificate, a.TLSKey, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if a.TLSClientCA != "" {
		if tc.ClientCAs, err = config.LoadCertPool(a.TLSClientCA); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin API: %w", err)
		}
		// Verified when given; required by the auth rule on every path but the probes, so that a health check needs
		// no certificate.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tls.NewListener(ln, tc), nil
}

// checkFilePaths refuses link configs given over the API (or read back from the state topic) that name a file
// outside admin.allowed.file.dirs: the API must not make the daemon open files of its choosing.
func (d *Daemon) checkFilePaths(configs map[string]string) error {
	var bad []string
	for k, v := range config.FilePaths(configs) {
		if !d.fileAllowed(v) {
			bad = append(bad, fmt.Sprintf("%s=%s", k, v))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	allowed := "none are allowed (admin.allowed.file.dirs is empty)"
	if dirs := d.cfg.Admin.AllowedFileDirs; len(dirs) > 0 {
		allowed = "allowed: " + strings.Join(dirs, ", ")
	}
	return adminapi.BadRequest("%s: files given over the API must lie under a directory of the daemon's admin.allowed.file.dirs (%s)",
		strings.Join(bad, ", "), allowed)
}

func (d *Daemon) fileAllowed(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	clean := filepath.Clean(path)
	if real, err := filepath.EvalSymlinks(clean); err == nil {
		clean = real
	}
	for _, dir := range d.cfg.Admin.AllowedFileDirs {
		realDir := dir
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			realDir = r
		}
		if rel, err := filepath.Rel(realDir, clean); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// checkSecretsSealed refuses sensitive configs when the state topic would keep them in clear.
func (d *Daemon) checkSecretsSealed(configs map[string]string) error {
	if d.store.Sealed() {
		return nil
	}
	var keys []string
	for k, v := range configs {
		if config.IsSensitive(k) && v != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return adminapi.BadRequest("%s: the state topic would keep these in clear text; set state.encryption.key in the daemon's file to store secrets sealed, or declare the link in the daemon's file with ${file:...} or ${env:...} references",
		strings.Join(keys, ", "))
}
