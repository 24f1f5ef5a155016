package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

// clientFlags are the root's persistent flags every API command uses.
type clientFlags struct {
	address string
	token   string
	output  string
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
}

func (f *clientFlags) client() *adminapi.Client {
	token := f.token
	if token == "" {
		token = os.Getenv("CLUSTERLINK_TOKEN")
	}
	return adminapi.NewClient(f.address, token)
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
