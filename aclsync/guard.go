package aclsync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clusterlink/clusterlink/config"
)

// This file is the guards the daemon keeps with ACLs on the destination: mirror topics read-only, and the state
// topic closed to everyone but the destination's super users (the daemon must be one). DENY wins over any ALLOW in
// Kafka's authorizers, and super users are not subject to ACLs.

// ErrNoAuthorizer is returned by the guards when the destination has no authorizer: topics cannot be guarded with
// ACLs there (the data plane still detects and reports foreign writes).
var ErrNoAuthorizer = errors.New("the destination cluster has no authorizer (SECURITY_DISABLED)")

// mirrorGuardOperations are what a principal could change a mirror's data, partitions, log start or configs with:
// WRITE (Produce), DELETE (DeleteRecords, DeleteTopics), ALTER (CreatePartitions) and ALTER_CONFIGS
// (AlterConfigs, IncrementalAlterConfigs).
var mirrorGuardOperations = []config.Operation{config.OperationWrite, config.OperationDelete, config.OperationAlter,
	config.OperationAlterConfigs}

// MirrorGuards are the ACLs that keep a mirror topic read-only: DENY of every operation that changes it, for every
// principal.
func MirrorGuards(topic string) []config.ACL {
	out := make([]config.ACL, 0, len(mirrorGuardOperations))
	for _, op := range mirrorGuardOperations {
		out = append(out, config.ACL{
			ResourceType: config.ResourceTopic, ResourceName: topic, PatternType: config.PatternLiteral,
			Principal: "User:*", Host: "*", Operation: op, Permission: config.PermissionDeny,
		})
	}
	return out
}

// IsGuard reports whether an ACL has the shape of clusterlink's own guards (MirrorGuards, StateTopicGuard): a
// DENY, for every principal and host, of an operation the guards deny on one LITERAL topic. The ACL sync never
// copies these: on a link.mode=BIDIRECTIONAL link each side has guards of its own mirrors, and copied they would
// make the other side's writable topics read-only.
func IsGuard(a config.ACL) bool {
	if a.ResourceType != config.ResourceTopic || a.PatternType != config.PatternLiteral || a.Principal != "User:*" ||
		a.Host != "*" || a.Permission != config.PermissionDeny {
		return false
	}
	return a.Operation == config.OperationAll || slices.Contains(mirrorGuardOperations, a.Operation)
}

// StateTopicGuard is the ACL that closes the state topic: DENY of every operation for every principal.
func StateTopicGuard(topic string) config.ACL {
	return config.ACL{ResourceType: config.ResourceTopic, ResourceName: topic, PatternType: config.PatternLiteral,
		Principal: "User:*", Host: "*", Operation: config.OperationAll, Permission: config.PermissionDeny}
}

// Guard creates ACLs (idempotent); ErrNoAuthorizer without an authorizer.
func Guard(ctx context.Context, dst *kgo.Client, acls []config.ACL) error {
	_, err := createACLs(ctx, dst, acls)
	if errors.Is(err, kerr.SecurityDisabled) {
		return ErrNoAuthorizer
	}
	return err
}

// Unguard deletes exactly the given ACLs (idempotent); nothing to do without an authorizer.
func Unguard(ctx context.Context, dst *kgo.Client, acls []config.ACL) error {
	_, err := deleteACLs(ctx, dst, acls)
	if errors.Is(err, kerr.SecurityDisabled) {
		return nil
	}
	return err
}

// ProtectMirror makes a mirror topic read-only for every principal but the destination's super users. It is
// idempotent.
func ProtectMirror(ctx context.Context, dst *kgo.Client, topic string) error {
	err := Guard(ctx, dst, MirrorGuards(topic))
	if err != nil && !errors.Is(err, ErrNoAuthorizer) {
		return fmt.Errorf("make mirror topic %s read-only: %w", topic, err)
	}
	return err
}

// UnprotectMirror removes exactly the read-only guard of a promoted topic. It is idempotent.
func UnprotectMirror(ctx context.Context, dst *kgo.Client, topic string) error {
	if err := Unguard(ctx, dst, MirrorGuards(topic)); err != nil {
		return fmt.Errorf("remove the read-only guard of %s: %w", topic, err)
	}
	return nil
}

// MissingGuards returns, of the given ACLs, those the destination does not have (removed by someone).
func MissingGuards(ctx context.Context, dst *kgo.Client, want []config.ACL) ([]config.ACL, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeTopic
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
	req.Principal = kmsg.StringPtr("User:*")
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeDeny
	resp, err := req.RequestWith(ctx, dst)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.SecurityDisabled) {
			return nil, ErrNoAuthorizer
		}
		return nil, err
	}
	have := map[config.ACL]bool{}
	for _, r := range resp.Resources {
		for _, e := range r.ACLs {
			have[config.ACL{ResourceType: config.ResourceType(r.ResourceType), ResourceName: r.ResourceName,
				PatternType: config.PatternType(r.ResourcePatternType), Principal: e.Principal, Host: e.Host,
				Operation: config.Operation(e.Operation), Permission: config.Permission(e.PermissionType)}] = true
		}
	}
	var missing []config.ACL
	for _, a := range want {
		if !have[a] {
			missing = append(missing, a)
		}
	}
	return missing, nil
}
