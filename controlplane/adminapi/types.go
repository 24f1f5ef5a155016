// Package adminapi is the clusterlink admin HTTP API: its wire types, the HTTP server that serves them from a Backend,
// and the Client the CLI uses. It follows Confluent's REST v3 cluster-linking contract (paths, verbs, status codes,
// field names and types, error bodies, query filters, validate_only) for what clusterlink supports, so that scripts
// written against Confluent keep working; testdata/confluent holds Confluent's published documents and
// contract_test.go checks the server against them. What clusterlink adds (the ACL listing, mirrors:restart, the
// positions behind a partition's lag) sits beside Confluent's fields and paths without changing them. It does not
// run links itself: the daemon implements Backend.
//
// Paths (cluster_id is the destination cluster's id; "-" is accepted for "the one this daemon serves"):
//
//	GET    /kafka/v3/clusters                                              the destination cluster (a KafkaClusterList)
//	GET    /kafka/v3/clusters/{cluster_id}                                 the destination cluster
//	GET    /kafka/v3/clusters/{cluster_id}/links                           list links
//	POST   /kafka/v3/clusters/{cluster_id}/links?link_name=L&validate_only= create a link (CreateLinkRequest), 204
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}                    one link
//	DELETE /kafka/v3/clusters/{cluster_id}/links/{link}?force=&validate_only=  delete a link (its mirrors must be stopped unless force)
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/configs            the link's configs
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/configs/{name}     one config
//	PUT    /kafka/v3/clusters/{cluster_id}/links/{link}/configs/{name}     set one config (UpdateConfigRequest), 204
//	DELETE /kafka/v3/clusters/{cluster_id}/links/{link}/configs/{name}     reset one config to its default, 204
//	PUT    /kafka/v3/clusters/{cluster_id}/links/{link}/configs:alter?validate_only=  AlterConfigsRequest, 204 (POST too)
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors?mirror_status=  the link's mirror topics
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors?validate_only=  CreateMirrorRequest, 204
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors/{mirror}   one mirror topic
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors/{mirror}/verify?from_offset=&sample=&partitions=  compare with the source
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:promote?validate_only=   AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:failover?validate_only=  AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:pause?validate_only=     AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:resume?validate_only=    AlterMirrorsRequest
//	POST   /kafka/v3/clusters/{cluster_id}/links/{link}/mirrors:restart?validate_only=   AlterMirrorsRequest (out of FAILED)
//	GET    /kafka/v3/clusters/{cluster_id}/links/-/mirrors?mirror_status=  every link's mirror topics
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/acls               the destination ACLs the link manages ("-": every link's)
//	GET    /kafka/v3/clusters/{cluster_id}/links/{link}/daemons            the daemons sharing the link: members, generation, partitions
//
// Errors are answered with a non-2xx status and Confluent's Error body, also for unknown paths (404) and methods
// (405). Request bodies may carry fields clusterlink does not know: they are ignored, as Confluent's contract says.
// With a token configured every request needs "Authorization: Bearer <token>", or HTTP Basic with the token as the
// password (any username: Confluent scripts send an API key there).
package adminapi

import (
	"errors"
	"net/http"
)

// Error is the body of every failed request, as Confluent REST answers it.
type Error struct {
	ErrorCode int    `json:"error_code" yaml:"error_code"` // the HTTP status
	Message   string `json:"message" yaml:"message"`
}

func (e *Error) Error() string { return e.Message }

// Metadata is Confluent's resource metadata; Self is the resource's path.
type Metadata struct {
	Self         string `json:"self" yaml:"self"`
	ResourceName string `json:"resource_name,omitempty" yaml:"resource_name,omitempty"`
}

// ListMetadata is Confluent's collection metadata. Next is always null: clusterlink answers every item at once.
type ListMetadata struct {
	Self string  `json:"self" yaml:"self"`
	Next *string `json:"next" yaml:"next"`
}

// Relationship points at a related resource (Confluent's "related" links of a cluster).
type Relationship struct {
	Related string `json:"related" yaml:"related"`
}

// Cluster is the destination cluster this daemon writes to (Confluent's KafkaCluster). Its relationships are
// Confluent's; clusterlink serves only the links below it.
type Cluster struct {
	Kind                   string        `json:"kind" yaml:"kind"` // KafkaCluster
	Metadata               Metadata      `json:"metadata" yaml:"metadata"`
	ClusterID              string        `json:"cluster_id" yaml:"cluster_id"`
	Controller             *Relationship `json:"controller,omitempty" yaml:"controller,omitempty"`
	ACLs                   Relationship  `json:"acls" yaml:"acls"`
	Brokers                Relationship  `json:"brokers" yaml:"brokers"`
	BrokerConfigs          Relationship  `json:"broker_configs" yaml:"broker_configs"`
	ConsumerGroups         Relationship  `json:"consumer_groups" yaml:"consumer_groups"`
	Topics                 Relationship  `json:"topics" yaml:"topics"`
	PartitionReassignments Relationship  `json:"partition_reassignments" yaml:"partition_reassignments"`
}

// ClusterList is the answer of GET /clusters: the one destination cluster.
type ClusterList struct {
	Kind     string       `json:"kind" yaml:"kind"` // KafkaClusterList
	Metadata ListMetadata `json:"metadata" yaml:"metadata"`
	Data     []Cluster    `json:"data" yaml:"data"`
}

// TaskError is one error of a link task, or a mirror's state transition error (Confluent's LinkTaskError).
type TaskError struct {
	ErrorCode    string `json:"error_code" yaml:"error_code"`
	ErrorMessage string `json:"error_message" yaml:"error_message"`
}

// Task is one of a link's loops (AutoCreateMirror, TopicConfigsSync, ConsumerOffsetSync, AclSync,
// AvailabilityCheck) and its state: ACTIVE, IN_ERROR, NOT_CONFIGURED or LINK_PAUSED.
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
	// ClusterLinkID is the link's id; LinkID is the same, under the name Confluent deprecated but still sends.
	ClusterLinkID string   `json:"cluster_link_id" yaml:"cluster_link_id"`
	LinkID        string   `json:"link_id" yaml:"link_id"`
	TopicNames    []string `json:"topic_names" yaml:"topic_names"`
	// LinkState is ACTIVE, PAUSED (cluster.link.paused), UNAVAILABLE (the source) or FAILED.
	LinkState        string `json:"link_state" yaml:"link_state"`
	LinkError        string `json:"link_error" yaml:"link_error"` // NO_ERROR or a link error code
	LinkErrorMessage string `json:"link_error_message" yaml:"link_error_message"`
	Tasks            []Task `json:"tasks" yaml:"tasks"`
}

// LinkList is the answer of GET /links.
type LinkList struct {
	Kind     string       `json:"kind" yaml:"kind"` // KafkaLinkDataList
	Metadata ListMetadata `json:"metadata" yaml:"metadata"`
	Data     []Link       `json:"data" yaml:"data"`
}

// Config is one link config (Confluent's KafkaLinkConfigData). Sensitive values are never sent: Value is
// "[hidden]" when a sensitive config is set. A Backend fills Name, Value, ReadOnly, Sensitive, Source and Synonyms;
// the server the rest. Confluent Cloud names the flags is_read_only, is_sensitive and is_default, Confluent Platform
// read_only and sensitive: both are sent.
type Config struct {
	Kind        string   `json:"kind" yaml:"kind"` // KafkaLinkConfigData
	Metadata    Metadata `json:"metadata" yaml:"metadata"`
	ClusterID   string   `json:"cluster_id" yaml:"cluster_id"`
	LinkName    string   `json:"link_name" yaml:"link_name"`
	Name        string   `json:"name" yaml:"name"`
	Value       string   `json:"value" yaml:"value"`
	IsDefault   bool     `json:"is_default" yaml:"is_default"`
	IsReadOnly  bool     `json:"is_read_only" yaml:"is_read_only"`
	IsSensitive bool     `json:"is_sensitive" yaml:"is_sensitive"`
	ReadOnly    bool     `json:"read_only" yaml:"read_only"`
	Sensitive   bool     `json:"sensitive" yaml:"sensitive"`
	Source      string   `json:"source" yaml:"source"` // DYNAMIC_CLUSTER_LINK_CONFIG or DEFAULT_CONFIG
	Synonyms    []string `json:"synonyms" yaml:"synonyms"`
}

// ConfigList is the answer of GET /links/{link}/configs.
type ConfigList struct {
	Kind     string       `json:"kind" yaml:"kind"` // KafkaLinkConfigDataList
	Metadata ListMetadata `json:"metadata" yaml:"metadata"`
	Data     []Config     `json:"data" yaml:"data"`
}

// ConfigValue is one config of a CreateLinkRequest, a CreateMirrorRequest or an AlterConfigsRequest.
type ConfigValue struct {
	Name  string `json:"name" yaml:"name"`
	Value string `json:"value" yaml:"value"`
	// Operation is SET (default) or DELETE (back to the default) in an AlterConfigsRequest.
	Operation string `json:"operation,omitempty" yaml:"operation,omitempty"`
}

// CreateLinkRequest is the body of POST /links?link_name=L. Secrets are given as values; ${env:...} and
// ${file:...} references are refused over the API (they would read the daemon's environment and files).
// clusterlink runs destination-initiated links on the cluster it serves: DestinationClusterID, when given, must be
// that cluster; RemoteClusterID and ClusterLinkID (bidirectional links) are refused.
type CreateLinkRequest struct {
	SourceClusterID      string        `json:"source_cluster_id,omitempty" yaml:"source_cluster_id,omitempty"`
	DestinationClusterID string        `json:"destination_cluster_id,omitempty" yaml:"destination_cluster_id,omitempty"`
	RemoteClusterID      string        `json:"remote_cluster_id,omitempty" yaml:"remote_cluster_id,omitempty"`
	ClusterLinkID        string        `json:"cluster_link_id,omitempty" yaml:"cluster_link_id,omitempty"`
	Configs              []ConfigValue `json:"configs" yaml:"configs"`
}

// AlterConfigsRequest is the body of PUT (or POST) /links/{link}/configs:alter. ValidateOnly in the body is the
// same as the validate_only query parameter.
type AlterConfigsRequest struct {
	Data         []ConfigValue `json:"data" yaml:"data"`
	ValidateOnly bool          `json:"validate_only,omitempty" yaml:"validate_only,omitempty"`
}

// UpdateConfigRequest is the body of PUT /links/{link}/configs/{name}.
type UpdateConfigRequest struct {
	Value string `json:"value" yaml:"value"`
}

// MirrorLag is one mirror partition's position: Confluent's mirror_lags entry (partition, lag,
// last_source_fetch_offset), then what clusterlink adds.
type MirrorLag struct {
	Partition             int32 `json:"partition" yaml:"partition"`
	Lag                   int64 `json:"lag" yaml:"lag"`
	LastSourceFetchOffset int64 `json:"last_source_fetch_offset" yaml:"last_source_fetch_offset"`

	SourceHighWatermark int64 `json:"source_high_watermark" yaml:"source_high_watermark"`
	MirrorLogEndOffset  int64 `json:"mirror_log_end_offset" yaml:"mirror_log_end_offset"`
	// CatchUpSeconds estimates how long the partition needs to reach lag 0 at its recent copy rate; -1 unknown.
	CatchUpSeconds float64 `json:"catch_up_seconds" yaml:"catch_up_seconds"`
	// TimeLagMs is how old the oldest source record not yet on the mirror is, in milliseconds (the recovery point
	// of a failover now): 0 when caught up, -1 unknown.
	TimeLagMs    int64  `json:"time_lag_ms" yaml:"time_lag_ms"`
	ErrorCode    string `json:"error_code,omitempty" yaml:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty" yaml:"error_message,omitempty"`
}

// Mirror statuses a mirror topic has (Confluent's MirrorTopicStatus); ParseMirrorStatus accepts these.
var MirrorStatuses = []string{"ACTIVE", "FAILED", "LINK_FAILED", "LINK_PAUSED", "PAUSED", "PENDING_STOPPED",
	"SOURCE_UNAVAILABLE", "STOPPED", "PENDING_MIRROR", "PENDING_SYNCHRONIZE", "PENDING_SETUP_FOR_RESTORE",
	"PENDING_RESTORE"}

// Mirror is one mirror topic (Confluent's KafkaMirrorData): Confluent's fields, then what clusterlink adds.
type Mirror struct {
	Kind            string      `json:"kind" yaml:"kind"` // KafkaMirrorData
	Metadata        Metadata    `json:"metadata" yaml:"metadata"`
	LinkName        string      `json:"link_name" yaml:"link_name"`
	MirrorTopicName string      `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	SourceTopicName string      `json:"source_topic_name" yaml:"source_topic_name"`
	NumPartitions   int32       `json:"num_partitions" yaml:"num_partitions"`
	MirrorLags      []MirrorLag `json:"mirror_lags" yaml:"mirror_lags"`
	// MirrorStatus is one of MirrorStatuses: PENDING_MIRROR, ACTIVE, PAUSED, PENDING_STOPPED, STOPPED, FAILED,
	// SOURCE_UNAVAILABLE, LINK_PAUSED or LINK_FAILED here.
	MirrorStatus string `json:"mirror_status" yaml:"mirror_status"`
	// MirrorTopicError is NO_ERROR or the code of the failure that stopped the mirror (SOURCE_TOPIC_MAY_BE_DELETED,
	// ILLEGAL_STATE, ...).
	MirrorTopicError string `json:"mirror_topic_error" yaml:"mirror_topic_error"`
	StateTimeMs      int64  `json:"state_time_ms" yaml:"state_time_ms"`
	// MirrorStateTransitionErrors are the reasons of the mirror's current state when it is an error state: the code
	// and the message of the failure.
	MirrorStateTransitionErrors []TaskError `json:"mirror_state_transition_errors" yaml:"mirror_state_transition_errors"`

	// What clusterlink adds to Confluent's fields goes below, each documented in docs/openapi.yaml as clusterlink's.

	// Reversed: the mirror topic is on the link's source cluster, copying the destination's SourceTopicName (a
	// failback on a link.mode=BIDIRECTIONAL link).
	Reversed bool `json:"reversed,omitempty" yaml:"reversed,omitempty"`
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

// ErrorMessage is the message of the mirror's first state transition error, "" when it has none.
func (m Mirror) ErrorMessage() string {
	if len(m.MirrorStateTransitionErrors) == 0 {
		return ""
	}
	return m.MirrorStateTransitionErrors[0].ErrorMessage
}

// MirrorList is the answer of GET /links/{link}/mirrors.
type MirrorList struct {
	Kind     string       `json:"kind" yaml:"kind"` // KafkaMirrorDataList
	Metadata ListMetadata `json:"metadata" yaml:"metadata"`
	Data     []Mirror     `json:"data" yaml:"data"`
}

// CreateMirrorRequest is the body of POST /links/{link}/mirrors (Confluent's CreateMirrorTopicRequestData). At least
// one of the names is required.
type CreateMirrorRequest struct {
	// SourceTopicName defaults to MirrorTopicName without cluster.link.prefix.
	SourceTopicName string `json:"source_topic_name,omitempty" yaml:"source_topic_name,omitempty"`
	// MirrorTopicName defaults to cluster.link.prefix + SourceTopicName.
	MirrorTopicName string `json:"mirror_topic_name,omitempty" yaml:"mirror_topic_name,omitempty"`
	// ReplicationFactor is accepted as Confluent's CLI always sends it; mirror topics get the destination's
	// default.replication.factor.
	ReplicationFactor int32 `json:"replication_factor,omitempty" yaml:"replication_factor,omitempty"`
	// Configs are topic config overrides; the daemon refuses them: a mirror topic takes its source's configs.
	Configs []ConfigValue `json:"configs,omitempty" yaml:"configs,omitempty"`
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
	// IncludePartitionLevelTruncationData (Confluent's, for the failback operations) fills each result's
	// PartitionLevelTruncationData.
	IncludePartitionLevelTruncationData bool
}

// AlterMirrorsRequest is the body of the promote, failover, pause, resume and restart operations: the mirror topics
// by name, or every mirror topic of the link whose name matches MirrorTopicNamePattern (a regular expression that
// must match the whole name).
type AlterMirrorsRequest struct {
	MirrorTopicNames       []string `json:"mirror_topic_names,omitempty" yaml:"mirror_topic_names,omitempty"`
	MirrorTopicNamePattern string   `json:"mirror_topic_name_pattern,omitempty" yaml:"mirror_topic_name_pattern,omitempty"`
}

// AlterMirrorResult is one mirror's outcome of an operation (Confluent's AlterMirrorsData). ErrorCode and
// ErrorMessage are null on success; ErrorCode is the HTTP status class of the refusal (400, 404, 409, 500), as
// Confluent's. MessagesTruncated and PartitionLevelTruncationData are Confluent's failback results (null and empty
// for the other operations): the old source's records beyond each partition's truncation point, which clusterlink
// saves to DivergedTopicName (its own field) instead of discarding them.
type AlterMirrorResult struct {
	Kind                         string                `json:"kind" yaml:"kind"` // AlterMirrorsData
	Metadata                     Metadata              `json:"metadata" yaml:"metadata"`
	MirrorTopicName              string                `json:"mirror_topic_name" yaml:"mirror_topic_name"`
	ErrorCode                    *int                  `json:"error_code" yaml:"error_code"`
	ErrorMessage                 *string               `json:"error_message" yaml:"error_message"`
	MirrorLags                   []MirrorLag           `json:"mirror_lags" yaml:"mirror_lags"`
	MessagesTruncated            *int64                `json:"messages_truncated" yaml:"messages_truncated"`
	PartitionLevelTruncationData []PartitionTruncation `json:"partition_level_truncation_data" yaml:"partition_level_truncation_data"`
	DivergedTopicName            string                `json:"diverged_topic_name,omitempty" yaml:"diverged_topic_name,omitempty"`
}

// PartitionTruncation is Confluent's PartitionLevelTruncationData: the old source's partition restored from
// OffsetTruncatedTo, with MessagesTruncated of its committed records beyond it (saved, not discarded).
type PartitionTruncation struct {
	PartitionID       int32 `json:"partition_id" yaml:"partition_id"`
	OffsetTruncatedTo int64 `json:"offset_truncated_to" yaml:"offset_truncated_to"`
	MessagesTruncated int64 `json:"messages_truncated" yaml:"messages_truncated"`
}

// Fail records err as the result's error: its status when it is an *Error, otherwise 500.
func (r *AlterMirrorResult) Fail(err error) {
	code := http.StatusInternalServerError
	var apiErr *Error
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode
	}
	msg := err.Error()
	r.ErrorCode, r.ErrorMessage = &code, &msg
}

// Failed says whether the operation failed for this mirror.
func (r AlterMirrorResult) Failed() bool { return r.ErrorCode != nil || r.ErrorMessage != nil }

// Message is the error message, "" on success.
func (r AlterMirrorResult) Message() string {
	if r.ErrorMessage == nil {
		return ""
	}
	return *r.ErrorMessage
}

// AlterMirrorsResponse is the answer of an operation on mirrors.
type AlterMirrorsResponse struct {
	Kind     string              `json:"kind" yaml:"kind"` // KafkaPromoteMirror, as Confluent names it for every operation
	Metadata ListMetadata        `json:"metadata" yaml:"metadata"`
	Data     []AlterMirrorResult `json:"data" yaml:"data"`
}

// ACL is one destination ACL a link manages (synced from the source, or a read-only guard of a mirror topic).
type ACL struct {
	LinkName     string `json:"link_name" yaml:"link_name"`
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
	Kind     string       `json:"kind" yaml:"kind"` // KafkaAclDataList
	Metadata ListMetadata `json:"metadata" yaml:"metadata"`
	Data     []ACL        `json:"data" yaml:"data"`
}
