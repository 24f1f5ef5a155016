package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/clusterlink/clusterlink/config"
	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

// clientFlags are the root's persistent flags every API command uses.
type clientFlags struct {
	address string
	token   string
	output  string
	// caCert verifies an HTTPS daemon; clientCert and clientKey prove the CLI to a daemon that requires mTLS.
	caCert, clientCert, clientKey string
	tls                           *tls.Config // from them, checked before any command runs
}

func (f *clientFlags) register(cmd *cobra.Command) {
	addr := os.Getenv("CLUSTERLINK_ADDRESS")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	cmd.PersistentFlags().StringVar(&f.address, "address", addr, "the daemon's admin API, host:port (env CLUSTERLINK_ADDRESS)")
	// No default from the environment here: --help would print the token.
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "bearer token of the admin API (env CLUSTERLINK_TOKEN)")
	cmd.PersistentFlags().StringVarP(&f.output, "output", "o", "human", "output format: human, json or yaml")
	cmd.PersistentFlags().StringVar(&f.caCert, "ca-cert", os.Getenv("CLUSTERLINK_CA_CERT"), "PEM CA bundle of an HTTPS daemon (env CLUSTERLINK_CA_CERT); implies https://")
	cmd.PersistentFlags().StringVar(&f.clientCert, "client-cert", os.Getenv("CLUSTERLINK_CLIENT_CERT"), "PEM client certificate for a daemon that requires mTLS (env CLUSTERLINK_CLIENT_CERT)")
	cmd.PersistentFlags().StringVar(&f.clientKey, "client-key", os.Getenv("CLUSTERLINK_CLIENT_KEY"), "PEM key of --client-cert (env CLUSTERLINK_CLIENT_KEY)")
}

func (f *clientFlags) client() *adminapi.Client {
	token := f.token
	if token == "" {
		token = os.Getenv("CLUSTERLINK_TOKEN")
	}
	return adminapi.NewClientWith(f.address, adminapi.ClientOptions{Token: token, TLS: f.tls})
}

// check validates the client flags before a command runs.
func (f *clientFlags) check(*cobra.Command, []string) error {
	var err error
	f.tls, err = f.tlsConfig()
	return err
}

// tlsConfig is the CLI's TLS to the daemon, nil for plain HTTP.
func (f *clientFlags) tlsConfig() (*tls.Config, error) {
	if f.caCert == "" && f.clientCert == "" && !strings.HasPrefix(f.address, "https://") {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caCert != "" {
		pool, err := config.LoadCertPool(f.caCert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		tc.RootCAs = pool
	}
	if (f.clientCert == "") != (f.clientKey == "") {
		return nil, fmt.Errorf("--client-cert and --client-key go together")
	}
	if f.clientCert != "" {
		cert, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
		if err != nil {
			return nil, fmt.Errorf("--client-cert %s with --client-key %s: cannot load them as a PEM certificate and key", f.clientCert, f.clientKey)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// requestContext bounds a request with adminapi.DefaultTimeout.
func requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), adminapi.DefaultTimeout)
}

// table is a human table: a header row and aligned columns.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// print writes v as JSON or YAML, or calls human for the human format.
func (f *clientFlags) print(w io.Writer, v any, human func() error) error {
	switch f.output {
	case "human", "":
		return human()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	return fmt.Errorf("--output %q: use human, json or yaml", f.output)
}

// checkOutput refuses an unknown --output before a request is made.
func (f *clientFlags) checkOutput() error {
	switch f.output {
	case "human", "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: use human, json or yaml", f.output)
}
