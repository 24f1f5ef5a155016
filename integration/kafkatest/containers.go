package kafkatest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ContainerImageEnv overrides the image of the testcontainers backend. The testcontainers Kafka module drives
// Confluent's community image (Apache Kafka inside); the process backend runs the pinned Apache Kafka jars.
const ContainerImageEnv = "CLUSTERLINK_TEST_KAFKA_IMAGE"

// The testcontainers backend runs the program of integration/testcontainers, a Go module of its own, so that
// testcontainers-go and its dependencies stay out of this module's graph. It is built once per test binary.
var (
	containerToolOnce sync.Once
	containerTool     string
	containerToolErr  error
)

func buildContainerTool() (string, error) {
	containerToolOnce.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			containerToolErr = errors.New("kafkatest: locate the sources: runtime.Caller failed")
			return
		}
		src := filepath.Join(filepath.Dir(file), "..", "testcontainers")
		dir, err := os.MkdirTemp("", "kafkatest-testcontainers-")
		if err != nil {
			containerToolErr = err
			return
		}
		bin := filepath.Join(dir, "testcontainers")
		out, err := exec.Command("go", "build", "-C", src, "-o", bin, ".").CombinedOutput()
		if err != nil {
			containerToolErr = fmt.Errorf("kafkatest: build %s: %w\n%s", src, err, out)
			return
		}
		containerTool = bin
	})
	return containerTool, containerToolErr
}

// startContainers starts a single-node PLAINTEXT cluster in Docker through the testcontainers program. SASL and
// several nodes need the process backend, and so do Stop, Kill and Restart (a container's mapped port changes when
// it restarts).
func startContainers(ctx context.Context, o options) (*Cluster, error) {
	if o.nodes != 1 || o.sasl || len(o.listeners) > 0 {
		return nil, errors.New("kafkatest: the testcontainers backend starts single-node PLAINTEXT clusters; SASL, extra listeners and several nodes need the process backend")
	}
	tool, err := buildContainerTool()
	if err != nil {
		return nil, err
	}
	args := []string{"-cluster-id", newClusterID()}
	if image := os.Getenv(ContainerImageEnv); image != "" {
		args = append(args, "-image", image)
	}
	env := map[string]string{
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
	}
	for k, v := range o.brokerConfig {
		env["KAFKA_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = v
	}
	for k, v := range env {
		args = append(args, "-env", k+"="+v)
	}
	cmd := exec.Command(tool, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kafkatest: start %s: %w", tool, err)
	}
	stopTool := func() {
		_ = stdin.Close() // the program terminates its container when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-done
		}
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "bootstrap "); ok {
				addr <- a
				return
			}
		}
		close(addr)
	}()
	var bootstrap string
	select {
	case a, ok := <-addr:
		if !ok {
			stopTool()
			return nil, errors.New("kafkatest: the testcontainers program ended without a bootstrap address (its stderr is above)")
		}
		bootstrap = a
	case <-ctx.Done():
		stopTool()
		return nil, ctx.Err()
	}
	_, port, _ := net.SplitHostPort(bootstrap)
	p, _ := strconv.Atoi(port)
	c := &Cluster{opts: o}
	c.Nodes = []*Node{{ID: 1, Port: p, external: errors.New("kafkatest: Stop, Kill and Restart need the process backend")}}
	c.closeFn = stopTool
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
