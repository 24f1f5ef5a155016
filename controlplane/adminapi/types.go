// Package adminapi is the clusterlink admin HTTP API: its wire types, shaped like Confluent's REST v3 cluster-linking
// resources so that scripts written against Confluent keep their field names, the HTTP server that serves them from
// a Backend, and the Client the CLI uses. It does not run links itself: the daemon implements Backend.
//
// Paths (cluster_id is the destination cluster's id; "-" is accepted for "the one this daemon serves"):
//
//	GET    /kafka/v3/clusters/{cluster_id}/links                           list links
//	POST   /kafka/v3/clusters/{cluster_id}/links?link_name=L&validate_only= create a link (CreateLinkRequest)
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}                    one link
//	DELETE /kafka/v3/clusters/{cluster_id}/links/{link}?force=             delete a link (its mirrors must be stopped unless force)
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/configs            the link's configs
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/configs:alter?validate_only=  AlterConfigsRequest
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors            the link's mirror topics
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors?validate_only=       CreateMirrorRequest
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors/{mirror}   one mirror topic
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors/{mirror}/verify?from_offset=&sample=&partitions=  compare with the source
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:promote?validate_only=   AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:failover?validate_only=  AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:pause?validate_only=     AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:resume?validate_only=    AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:restart?validate_only=   AlterMirrorsRequest (out of FAILED)
//	GET    /kafka/v3/clusters/{cluster_id}/links/-/mirrors                 every link's mirror topics
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/acls               the destination ACLs the link manages
//	GET    /kafka/v3/clusters                                              the destination cluster (its id)
//
// Errors are answered with a non-2xx status and an Error body. With a token configured every request needs
// "Authorization: Bearer <token>".
package adminapi

// Error is the body of every failed request, as Confluent REST answers it.
type Error struct {
	ErrorCode int    `json:"error_code" yaml:"error_code"` // the HTTP status
	Message   string `json:"message" yaml:"message"`
}

func (e *Error) Error() string { return e.Message }

// Metadata is Confluent's resource metadata; Self is the resource's path.
type Metadata struct {
	Self string `json:"self" yaml:"self"`
}

// Cluster is the destination cluster this daemon writes to.
type Cluster struct {
	Kind      string `json:"kind" yaml:"kind"` // KafkaCluster
	ClusterID string `json:"cluster_id" yaml:"cluster_id"`
}

// TaskError is one error of a link task.
type TaskError struct {
	ErrorCode    string `json:"error_code" yaml:"error_code"`
	ErrorMessage string `json:"error_message" yaml:"error_message"`
}

// Task is one of a link's loops (MirrorTopicCreation, TopicConfigsSync, ConsumerOffsetSync, AclSync,
// AvailabilityCheck) and its state: ACTIVE, IN_ERROR, NOT_CONFIGURED or PAUSED.
type Task struct {
	TaskName string      `json:"task_name" yaml:"task_name"`
	State    string      `json:"state" yaml:"state"`
	Errors   []TaskError `json:"errors" yaml:"errors"`
}

// Link is one cluster link (Confluent's KafkaLinkData).
type Link struct {
	Kind                 string   `json:"kind" yaml:"kind"` // KafkaLinkData
	Metadata             Metadata `json:"metadata" yaml:"metadata"`
	SourceClusterID      string   `json:"source_cluster_id" yaml:"source_cluster_id"`
	DestinationClusterID string   `json:"destination_cluster_id" yaml:"destination_cluster_id"`
	LinkName             string   `json:"link_name" yaml:"link_name"`
	LinkID               string   `json:"link_id" yaml:"link_id"`
	TopicNames           []string `json:"topic_names" yaml:"topic_names"`
	// LinkState is ACTIVE, PAUSED (cluster.link.paused), SOURCE_UNAVAILABLE or FAILED.
	LinkState        string `json:"link_state" yaml:"link_state"`
	LinkError        string `json:"link_error" yaml:"link_error"` // NO_ERROR or a link error code
	LinkErrorMessage string `json:"link_error_message" yaml:"link_error_message"`
	Tasks            []Task `json:"tasks" yaml:"tasks"`
}

// LinkList is the answer of GET /links.
type LinkList struct {
	Kind string `json:"kind" yaml:"kind"` // KafkaLinkDataList
	Data []Link `json:"data" yaml:"data"`
}

// Config is one link config (Confluent's ClusterLinkConfigData). Sensitive values are never sent: Value is
// "[hidden]" when a sensitive config is set.
type Config struct {
	Name      string   `json:"name" yaml:"name"`
	Value     string   `json:"value" yaml:"value"`
	ReadOnly  bool     `json:"read_only" yaml:"read_only"`
	Sensitive bool     `json:"sensitive" yaml:"sensitive"`
	Source    string   `json:"source" yaml:"source"` // DYNAMIC_CLUSTER_LINK_CONFIG or DEFAULT_CONFIG
	Synonyms  []string `json:"synonyms" yaml:"synonyms"`
}

// ConfigList is the answer of GET /links/{link}/configs.
type ConfigList struct {
	Kind string   `json:"kind" yaml:"kind"` // KafkaLinkConfigDataList
	Data []Config `json:"data" yaml:"data"`
}

// ConfigValue is one config of a CreateLinkRequest or an AlterConfigsRequest.
type ConfigValue struct {
	Name  string `json:"name" yaml:"name"`
	Value string `json:"value" yaml:"value"`
	// Operation is SET (default) or DELETE (back to the default) in an AlterConfigsRequest.
	Operation string `json:"operation,omitempty" yaml:"operation,omitempty"`
}

// CreateLinkRequest is the body of POST /links?link_name=L. Secrets are given as values; ${env:...} and
// ${file:...} references are refused over the API (they would read the daemon's environment and files).
type CreateLinkRequest struct {
	SourceClusterID string        `json:"source_cluster_id,omitempty" yaml:"source_cluster_id,omitempty"`
	Configs         []ConfigValue `json:"configs" yaml:"configs"`
}

// AlterConfigsRequest is the body of POST /links/{link}/configs:alter.
type AlterConfigsRequest struct {
	Data []ConfigValue `json:"data" yaml:"data"`
}

// MirrorLag is one mirror partition's position (Confluent's mirror_lags entry, with the positions behind it).
type MirrorLag struct {
	Partition             int32 `json:"partition" yaml:"partition"`
	Lag                   int64 `json:"lag" yaml:"lag"`
	LastSourceFetchOffset int64 `json:"last_source_fetch_offset" yaml:"last_source_fetch_offset"`
	SourceHighWatermark   int64 `json:"source_high_watermark" yaml:"source_high_watermark"`
	MirrorLogEndOffset    int64 `json:"mirror_log_end_offset" yaml:"mirror_log_end_offset"`
	// CatchUpSeconds estimates how long the partition needs to reach lag 0 at its recent copy rate; -1 unknown.
	CatchUpSeconds float64 `json:"catch_up_seconds" yaml:"catch_up_seconds"`
	// TimeLagMs is how old the oldest source record not yet on the mirror is, in milliseconds (the recovery point
	// of a failover now): 0 when caught up, -1 unknown.
	TimeLagMs    int64  `json:"time_lag_ms" yaml:"time_lag_ms"`
	ErrorCode    string `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty" yaml:"error_message,omitempty"`
}

// Mirror is one mirror topic (Confluent's KafkaMirrorData).
type Mirror struct {
	Kind            string      `json:"kind" yaml:"kind"` // KafkaMirrorData
	Metadata        Metadata    `json:"metadata" yaml:"metadata"`
	LinkName        string      `json:"link_name" yaml:"link_name"`
	MirrorTopicName string      `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	SourceTopicName string      `json:"source_topic_name" yaml:"source_topic_name"`
	NumPartitions   int32       `json:"num_partitions" yaml:"num_partitions"`
	MirrorLags      []MirrorLag `json:"mirror_lags" yaml:"mirror_lags"`
	// MirrorStatus is PENDING_MIRROR, ACTIVE, PAUSED, PENDING_STOPPED, STOPPED, FAILED, SOURCE_UNAVAILABLE or
	// LINK_PAUSED.
	MirrorStatus string `json:"mirror_status" yaml:"mirror_status"`
	StateTimeMs  int64  `json:"state_time_ms" yaml:"state_time_ms"`
	ErrorCode    string `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty" yaml:"error_message,omitempty"`
}

// MaxLag is the largest partition lag ("Max Per Partition Mirror Lag"), -1 if a partition's lag is unknown.
func (m Mirror) MaxLag() int64 {
	var lag int64
	for _, l := range m.MirrorLags {
		if l.Lag < 0 {
			return -1
		}
		lag = max(lag, l.Lag)
	}
	return lag
}

// MirrorList is the answer of GET /links/{link}/mirrors.
type MirrorList struct {
	Kind string   `json:"kind" yaml:"kind"` // KafkaMirrorDataList
	Data []Mirror `json:"data" yaml:"data"`
}

// CreateMirrorRequest is the body of POST /links/{link}/mirrors. At least one of the names is required.
type CreateMirrorRequest struct {
	// SourceTopicName defaults to MirrorTopicName without cluster.link.prefix.
	SourceTopicName string `json:"source_topic_name,omitempty" yaml:"source_topic_name,omitempty"`
	// MirrorTopicName defaults to cluster.link.prefix + SourceTopicName.
	MirrorTopicName string `json:"mirror_topic_name,omitempty" yaml:"mirror_topic_name,omitempty"`
}

// MirrorVerification is the answer of GET /links/{link}/mirrors/{mirror}/verify (clusterlink's own): the mirror
// compared with its source, partition by partition.
type MirrorVerification struct {
	Kind            string                  `json:"kind" yaml:"kind"` // MirrorVerificationData
	LinkName        string                  `json:"link_name" yaml:"link_name"`
	MirrorTopicName string                  `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	SourceTopicName string                  `json:"source_topic_name" yaml:"source_topic_name"`
	Identical       bool                    `json:"identical" yaml:"identical"`
	Partitions      []PartitionVerification `json:"partitions" yaml:"partitions"`
}

// PartitionVerification is one partition of a MirrorVerification.
type PartitionVerification struct {
	Partition int32 `json:"partition" yaml:"partition"`
	// FromOffset and ToOffset bound the offsets compared, [from, to).
	FromOffset int64 `json:"from_offset" yaml:"from_offset"`
	ToOffset   int64 `json:"to_offset" yaml:"to_offset"`
	// OffsetsCompared of which OffsetsByBatch were proven by byte-identical batches, the rest record by record.
	OffsetsCompared  int64 `json:"offsets_compared" yaml:"offsets_compared"`
	OffsetsByBatch   int64 `json:"offsets_by_batch" yaml:"offsets_by_batch"`
	BatchesIdentical int64 `json:"batches_identical" yaml:"batches_identical"`
	OffsetsDiffering int64 `json:"offsets_differing" yaml:"offsets_differing"`
	OnlyOnSource     int64 `json:"offsets_only_on_source" yaml:"offsets_only_on_source"`
	OnlyOnMirror     int64 `json:"offsets_only_on_mirror" yaml:"offsets_only_on_mirror"`
	// NotYetCopied is the lag: source offsets beyond the mirror's end, not a difference.
	NotYetCopied int64 `json:"offsets_not_yet_copied" yaml:"offsets_not_yet_copied"`
	// PendingCompaction are offsets of a compacted topic the source's cleaner removed and the mirror's has not yet.
	PendingCompaction int64 `json:"offsets_pending_compaction" yaml:"offsets_pending_compaction"`
	// FirstDifference is the first differing offset, -1 if none, and Detail what differs there.
	FirstDifference int64  `json:"first_difference" yaml:"first_difference"`
	Detail          string `json:"detail,omitempty" yaml:"detail,omitempty"`
}

// VerifyOptions are the query parameters of a verification: from_offset (default: each log start), sample (only
// the last N offsets of each partition; default 0, all) and partitions (comma separated; default all).
type VerifyOptions struct {
	FromOffset int64
	Sample     int64
	Partitions []int32
}

// AlterOptions are the query parameters of the operations on mirrors: validate_only (Confluent's), and force
// (clusterlink's: promote or fail over a mirror that diverged from its source).
type AlterOptions struct {
	ValidateOnly bool
	Force        bool
}

// AlterMirrorsRequest is the body of the promote, failover, pause and resume operations.
type AlterMirrorsRequest struct {
	MirrorTopicNames []string `json:"mirror_topic_names" yaml:"mirror_topic_names"`
}

// AlterMirrorResult is one mirror's outcome of an operation (Confluent's AlterMirrorStatusResponseData). ErrorCode
// is empty on success.
type AlterMirrorResult struct {
	Kind            string      `json:"kind" yaml:"kind"` // AlterMirrorStatusResponseData
	MirrorTopicName string      `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	ErrorCode       string      `json:"error_code" yaml:"error_code"`
	ErrorMessage    string      `json:"error_message" yaml:"error_message"`
	MirrorLags      []MirrorLag `json:"mirror_lags" yaml:"mirror_lags"`
}

// AlterMirrorsResponse is the answer of an operation on mirrors.
type AlterMirrorsResponse struct {
	Kind string              `json:"kind" yaml:"kind"` // AlterMirrorStatusResponseDataList
	Data []AlterMirrorResult `json:"data" yaml:"data"`
}

// ACL is one destination ACL a link manages (synced from the source, or a read-only guard of a mirror topic).
type ACL struct {
	Principal    string `json:"principal" yaml:"principal"`
	Host         string `json:"host" yaml:"host"`
	Permission   string `json:"permission" yaml:"permission"` // ALLOW, DENY
	Operation    string `json:"operation" yaml:"operation"`
	ResourceType string `json:"resource_type" yaml:"resource_type"`
	ResourceName string `json:"resource_name" yaml:"resource_name"`
	PatternType  string `json:"pattern_type" yaml:"pattern_type"`
	// Reason is SYNCED (copied from the source) or MIRROR_READ_ONLY (keeps a mirror topic read-only).
	Reason string `json:"reason" yaml:"reason"`
}

// ACLList is the answer of GET /links/{link}/acls.
type ACLList struct {
	Kind string `json:"kind" yaml:"kind"` // KafkaAclDataList
	Data []ACL  `json:"data" yaml:"data"`
}
