package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/controlplane/adminapi"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// clusterlinkBinary builds cmd/clusterlink once per test run.
func clusterlinkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clusterlink-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "clusterlink")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/clusterlink").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/clusterlink: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// daemonProcess is `clusterlink run` as a child process.
type daemonProcess struct {
	cmd     *exec.Cmd
	address string
	logs    *bytes.Buffer
	mu      *sync.Mutex
	exited  chan error
}

// startDaemonProcess runs `clusterlink run --config` with the admin API on a free port and waits for /readyz.
func startDaemonProcess(t *testing.T, configPath, address string) *daemonProcess {
	t.Helper()
	data, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	// Pin the admin port so that a restarted daemon answers at the same address.
	cfg := strings.Replace(string(data), "listen: 127.0.0.1:0", "listen: "+address, 1)
	if err := os.WriteFile(configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(clusterlinkBinary(t), "run", "--config", configPath)
	p := &daemonProcess{cmd: cmd, address: address, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, exited: make(chan error, 1)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("clusterlink run log:\n%s", p.log())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + address + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("clusterlink run not ready within a minute: %v\n%s", err, p.log())
		}
		select {
		case err := <-p.exited:
			t.Fatalf("clusterlink run exited before it was ready: %v\n%s", err, p.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *daemonProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// terminate sends SIGTERM and requires a clean exit (status 0) within 30 seconds.
func (p *daemonProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("clusterlink run exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("clusterlink run did not stop within 30 s of SIGTERM")
	}
}

// TestRun_DaemonProcessStopsCleanlyOnSIGTERMAndResumes runs the real binary from a config file, mirrors a topic
// while a producer writes, stops it with SIGTERM in the middle of the copy (exit 0), starts it again, and requires
// the mirror to match its source record by record and batch by batch: the clean stop left nothing half-written.
func TestRun_DaemonProcessStopsCleanlyOnSIGTERMAndResumes(t *testing.T) {
	src, dst := source(t), destination(t)
	topic := uniqueTopic(t, "run-sigterm")
	createTopic(t, src, topic, 6, nil)
	produceMix(t, src, topic, 20000, kgo.Lz4Compression(), 7)
	const linkName = "run-link"
	path := writeDaemonConfig(t, src, dst, linkName, map[string]string{"replica.fetch.max.bytes": "65536"})
	ports, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	p := startDaemonProcess(t, path, ports)
	client := adminapi.NewClient(p.address, "")
	ctx := context.Background()
	if err := client.CreateMirror(ctx, linkName, adminapi.CreateMirrorRequest{SourceTopicName: topic}, false); err != nil {
		t.Fatal(err)
	}
	// Stop while copying: wait until some, not all, is copied.
	deadline := time.Now().Add(time.Minute)
	for {
		m, err := client.Mirror(ctx, linkName, topic)
		if err == nil && m.MirrorStatus == "ACTIVE" && len(m.MirrorLags) > 0 && m.MirrorLags[0].MirrorLogEndOffset > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no copy progress: %+v %v", m, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.terminate(t)
	first := strings.SplitN(p.log(), "\n", 2)[0]
	if !json.Valid([]byte(first)) {
		t.Errorf("logs are not JSON when stderr is not a terminal: %q", first)
	}
	if !strings.Contains(p.log(), `"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", p.log())
	}

	produceMix(t, src, topic, 2000, kgo.Lz4Compression(), 8)
	p = startDaemonProcess(t, path, ports)
	client = adminapi.NewClient(p.address, "")
	ends := sourceEnds(t, src, topic)
	deadline = time.Now().Add(2 * time.Minute)
	for {
		m, err := client.Mirror(ctx, linkName, topic)
		if err == nil && mirrorCaughtUpTo(ends)(m) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror did not catch up after the restart: %+v %v", m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	requireMirrorEqual(t, src, dst, topic, topic)
	p.terminate(t)
}

// freeAddress returns a 127.0.0.1:port that nothing listens on now.
func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
