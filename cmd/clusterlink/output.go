package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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

// check validates the client flags before a command runs: an unknown --output is refused before any request.
func (f *clientFlags) check(*cobra.Command, []string) error {
	if err := f.checkOutput(); err != nil {
		return err
	}
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

// What -o json|yaml prints: the Confluent CLI's keys (`confluent kafka link|mirror ... -o json`), not the REST
// objects, so that scripts reading the Confluent CLI's output read ours.

// linkOut is a link as `confluent kafka link list` prints it.
type linkOut struct {
	Name               string `json:"link_name" yaml:"link_name"`
	ID                 string `json:"link_id,omitempty" yaml:"link_id,omitempty"`
	TopicName          string `json:"topic_name,omitempty" yaml:"topic_name,omitempty"`
	SourceCluster      string `json:"source_cluster,omitempty" yaml:"source_cluster,omitempty"`
	DestinationCluster string `json:"destination_cluster,omitempty" yaml:"destination_cluster,omitempty"`
	State              string `json:"state" yaml:"state"`
	Error              string `json:"error,omitempty" yaml:"error,omitempty"`
	ErrorMessage       string `json:"error_message,omitempty" yaml:"error_message,omitempty"`
	// TasksInError is clusterlink's: the link's tasks IN_ERROR with their codes, "AclSync(AUTHORIZATION_ERROR)".
	TasksInError string `json:"tasks_in_error,omitempty" yaml:"tasks_in_error,omitempty"`
}

func newLinkOut(l adminapi.Link, topic string) linkOut {
	out := linkOut{Name: l.LinkName, ID: l.ClusterLinkID, TopicName: topic, SourceCluster: l.SourceClusterID,
		DestinationCluster: l.DestinationClusterID, State: l.LinkState, ErrorMessage: l.LinkErrorMessage,
		TasksInError: tasksInError(l.Tasks)}
	if l.LinkError != "NO_ERROR" {
		out.Error = l.LinkError
	}
	return out
}

// linkConfigOut is a link config as `confluent kafka link configuration list` prints it.
type linkConfigOut struct {
	ConfigName  string   `json:"config_name" yaml:"config_name"`
	ConfigValue string   `json:"config_value" yaml:"config_value"`
	ReadOnly    bool     `json:"read_only" yaml:"read_only"`
	Sensitive   bool     `json:"sensitive" yaml:"sensitive"`
	Source      string   `json:"source" yaml:"source"`
	Synonyms    []string `json:"synonyms" yaml:"synonyms"`
}

// taskOut is a link task as `confluent kafka link task list` prints it.
type taskOut struct {
	TaskName string         `json:"task_name" yaml:"task_name"`
	State    string         `json:"state" yaml:"state"`
	Errors   []taskErrorOut `json:"errors" yaml:"errors"`
}

type taskErrorOut struct {
	ErrorCode    string `json:"error_code" yaml:"error_code"`
	ErrorMessage string `json:"error_message" yaml:"error_message"`
}

// mirrorListOut is a mirror topic as `confluent kafka mirror list` prints it.
type mirrorListOut struct {
	LinkName                 string `json:"link_name" yaml:"link_name"`
	MirrorTopicName          string `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	NumPartition             int32  `json:"num_partition" yaml:"num_partition"`
	MaxPerPartitionMirrorLag int64  `json:"max_per_partition_mirror_lag" yaml:"max_per_partition_mirror_lag"`
	SourceTopicName          string `json:"source_topic_name" yaml:"source_topic_name"`
	MirrorStatus             string `json:"mirror_status" yaml:"mirror_status"`
	StatusTimeMs             int64  `json:"status_time_ms" yaml:"status_time_ms"`
}

// mirrorPartitionOut is a mirror partition as `confluent kafka mirror describe` prints it, and what clusterlink
// adds (the estimated catch-up time, the time lag and the partition's error).
type mirrorPartitionOut struct {
	LinkName              string  `json:"link_name" yaml:"link_name"`
	MirrorTopicName       string  `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	Partition             int32   `json:"partition" yaml:"partition"`
	PartitionMirrorLag    int64   `json:"partition_mirror_lag" yaml:"partition_mirror_lag"`
	SourceTopicName       string  `json:"source_topic_name" yaml:"source_topic_name"`
	MirrorStatus          string  `json:"mirror_status" yaml:"mirror_status"`
	MirrorTopicError      string  `json:"mirror_topic_error" yaml:"mirror_topic_error"`
	StatusTimeMs          int64   `json:"status_time_ms" yaml:"status_time_ms"`
	LastSourceFetchOffset int64   `json:"last_source_fetch_offset" yaml:"last_source_fetch_offset"`
	CatchUpSeconds        float64 `json:"catch_up_seconds" yaml:"catch_up_seconds"`
	TimeLagMs             int64   `json:"time_lag_ms" yaml:"time_lag_ms"`
	ErrorCode             string  `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorMessage          string  `json:"error_message,omitempty" yaml:"error_message,omitempty"`
}

// alterMirrorOut is one row of a mirror operation's result as `confluent kafka mirror promote` prints it: one per
// partition, or one with partition -1 for a topic the operation refused.
type alterMirrorOut struct {
	MirrorTopicName       string `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	Partition             int32  `json:"partition" yaml:"partition"`
	PartitionMirrorLag    int64  `json:"partition_mirror_lag" yaml:"partition_mirror_lag"`
	ErrorMessage          string `json:"error_message" yaml:"error_message"`
	ErrorCode             string `json:"error_code" yaml:"error_code"`
	LastSourceFetchOffset int64  `json:"last_source_fetch_offset" yaml:"last_source_fetch_offset"`
}

// stateTransitionErrorOut is one row of `confluent kafka mirror state-transition-error list`.
type stateTransitionErrorOut struct {
	ErrorCode    string `json:"error_code" yaml:"error_code"`
	ErrorMessage string `json:"error_message" yaml:"error_message"`
}

// lagText is a lag in offsets as the tables show it: "unknown" while the daemon does not know it (-1).
func lagText(lag int64) string {
	if lag < 0 {
		return "unknown"
	}
	return strconv.FormatInt(lag, 10)
}

// timeLagText is a time lag as the tables show it: "unknown" while unknown (-1).
func timeLagText(ms int64) string {
	if ms < 0 {
		return "unknown"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Millisecond).String()
}
