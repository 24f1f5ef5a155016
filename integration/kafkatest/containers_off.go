//go:build !testcontainers

package kafkatest

import (
	"context"
	"errors"
)

func startContainers(context.Context, options) (*Cluster, error) {
	return nil, errors.New("kafkatest: " + BackendEnv + "=testcontainers needs a build with -tags testcontainers (make test-testcontainers)")
}
