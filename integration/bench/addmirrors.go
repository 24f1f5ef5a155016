package main

import (
	"context"

	"github.com/clusterlink/clusterlink/replicator"
)

// addMirrors adds the scale scenario's mirrors in one batch (replicator.AddMirrors).
func addMirrors(ctx context.Context, r *replicator.Replicator, specs []replicator.MirrorSpec) map[string]error {
	return r.AddMirrors(ctx, specs)
}
