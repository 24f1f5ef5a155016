package quickstart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// step is one line of a quickstart block: a shell command, or a file to write.
type step struct {
	command string // what the line says, its comment removed
	staysUp bool   // the README says it "stays up": it runs in the background until the end
	file    string // a file block: its name
	content string
}

// quickstart reads the blocks marked quickstart from README.md: ```sh quickstart (one command a line; a comment
// saying "stays up" makes it a background command) and ```yaml quickstart NAME (a file to save as NAME).
func quickstart(t *testing.T, readme string) []step {
	t.Helper()
	fence := regexp.MustCompile("(?ms)^```(\\w+) quickstart ?(\\S*)\\n(.*?)^```")
	var steps []step
	for _, m := range fence.FindAllStringSubmatch(readme, -1) {
		lang, name, body := m[1], m[2], m[3]
		switch lang {
		case "sh":
			for _, line := range strings.Split(body, "\n") {
				cmd, comment, _ := strings.Cut(line, " #")
				if cmd = strings.TrimSpace(cmd); cmd != "" {
					steps = append(steps, step{command: cmd, staysUp: strings.Contains(comment, "stays up")})
				}
			}
		default:
			if name == "" {
				t.Fatalf("a ```%s quickstart block names no file", lang)
			}
			steps = append(steps, step{file: name, content: body})
		}
	}
	if len(steps) == 0 {
		t.Fatal("README.md has no quickstart blocks")
	}
	return steps
}

// background is a command that stays up: its own process group (as a shell's job), its output kept.
type background struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// waitReady waits until the command printed a line with "ready" (make brokers and the daemon both do), or exited.
func (b *background) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(b.output(), "\n") {
			if strings.Contains(l, "ready") {
				return
			}
		}
		select {
		case <-b.done:
			t.Fatalf("%q exited before it was ready:\n%s", b.cmd.Args[2], b.output())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("%q not ready after %s:\n%s", b.cmd.Args[2], timeout, b.output())
}

// interrupt is Ctrl-C: SIGINT to the command's process group. It must end by itself within a minute.
func (b *background) interrupt(t *testing.T) {
	t.Helper()
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-b.done:
		// make ends itself by SIGINT after its job did (as in a terminal); anything else must exit 0.
		ws, _ := b.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if st := b.cmd.ProcessState; !st.Success() && !(ws.Signaled() && ws.Signal() == syscall.SIGINT) {
			t.Errorf("%q ended with %v after Ctrl-C:\n%s", b.cmd.Args[2], st, tail(b.output(), 20))
		}
	case <-time.After(time.Minute):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
		t.Errorf("%q did not end within a minute of Ctrl-C", b.cmd.Args[2])
	}
}

// TestREADME_QuickStartWorksAsWritten clones the repository, runs README.md's quickstart blocks in order (make build,
// make brokers, the example config, the daemon, the CLI), checks that the promoted mirror holds the source's
// records at the same offsets, that the first start logged no COORDINATOR_NOT_AVAILABLE warning, and that Ctrl-C
// stops the daemon and both broker processes.
func TestREADME_QuickStartWorksAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real Kafka brokers; skipped with -short")
	}
	for _, tool := range []string{"git", "make", "java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			kafkatest.Require(t, fmt.Errorf("%s is not installed: %w", tool, err))
		}
	}
	for _, port := range []int{9092, 9093, 8090} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Fatalf("port %d is in use: the quick start's addresses (localhost:9092, :9093, 127.0.0.1:8090) must be free", port)
		}
	}
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	clone := filepath.Join(t.TempDir(), "clusterlink")
	if out, err := exec.Command("git", "clone", "--quiet", repo, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "make demo") || strings.Index(string(readme), "make demo") > strings.Index(string(readme), "```sh quickstart") {
		t.Error("README.md must open with make demo and make test, before the quick start")
	}

	var running []*background
	defer func() { // on a failure before the end: stop whatever still runs
		for i := len(running) - 1; i >= 0; i-- {
			_ = syscall.Kill(-running[i].cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	outputs := map[string]string{}
	for _, s := range quickstart(t, string(readme)) {
		switch {
		case s.file != "":
			t.Logf("save %s", s.file)
			if err := os.WriteFile(filepath.Join(clone, s.file), []byte(s.content), 0o644); err != nil {
				t.Fatal(err)
			}
		case s.staysUp:
			t.Logf("$ %s   (stays up)", s.command)
			b := &background{cmd: exec.Command("bash", "-c", s.command), done: make(chan struct{})}
			b.cmd.Dir, b.cmd.Stdout, b.cmd.Stderr = clone, b, b
			b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := b.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { _ = b.cmd.Wait(); close(b.done) }()
			running = append(running, b)
			b.waitReady(t, 5*time.Minute)
			outputs[s.command] = b.output()
		default:
			t.Logf("$ %s", s.command)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			cmd := exec.CommandContext(ctx, "bash", "-c", s.command)
			cmd.Dir = clone
			out, err := cmd.CombinedOutput()
			cancel()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("%q: %v\n%s", s.command, err, out)
			}
			outputs[s.command] = string(out)
		}
	}
	// make build stamped the binary with the clone's commit.
	head, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v := outputs["bin/clusterlink version"]; !strings.Contains(v, "commit: "+strings.TrimSpace(string(head))) ||
		strings.HasPrefix(v, "clusterlink dev\n") {
		t.Errorf("bin/clusterlink version does not show the version and commit %s that make build stamps:\n%s", head, v)
	}
	if len(running) != 2 {
		t.Fatalf("%d commands stay up, want 2 (make brokers and the daemon)", len(running))
	}
	brokers, daemon := running[0], running[1]

	// What the walkthrough did: orders was mirrored and promoted.
	list, err := exec.Command(filepath.Join(clone, "bin", "clusterlink"), "mirror", "list", "-o", "json").Output()
	if err != nil {
		t.Fatalf("mirror list: %v", err)
	}
	var mirrors []struct {
		MirrorTopicName string `json:"mirror_topic_name"`
		MirrorStatus    string `json:"mirror_status"`
	}
	if err := json.Unmarshal(list, &mirrors); err != nil {
		t.Fatalf("mirror list -o json: %v\n%s", err, list)
	}
	var promoted bool
	for _, m := range mirrors {
		promoted = promoted || (m.MirrorTopicName == "orders" && m.MirrorStatus == "STOPPED")
	}
	if !promoted {
		t.Errorf("after the quick start orders is not STOPPED: %s", list)
	}
	compareTopic(t, "localhost:9092", "localhost:9093", "orders")

	// The first start on fresh brokers must not warn about the coordinator they are still starting.
	for _, line := range strings.Split(daemon.output(), "\n") {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		if entry.Level == "warn" || entry.Level == "error" {
			t.Logf("daemon %s: %s", entry.Level, line)
		}
		if entry.Level == "warn" && strings.Contains(line, "COORDINATOR_NOT_AVAILABLE") {
			t.Errorf("the first start warned about COORDINATOR_NOT_AVAILABLE: %s", line)
		}
	}

	// Known and not fixed yet (controlplane/link's auto-create races with the daemon creating the file's mirrors):
	// a "source topic not auto-mirrored" warning for orders may be logged. It is shown above, not failed on.

	// Ctrl-C stops the daemon, then the brokers, and their broker processes are gone.
	pids := brokerPIDs(t, outputs)
	daemon.interrupt(t)
	brokers.interrupt(t)
	running = nil
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("broker process %d still runs after make brokers was stopped", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// brokerPIDs reads the pids make brokers printed ("source: localhost:9092 (pid 123, ...").
func brokerPIDs(t *testing.T, outputs map[string]string) []int {
	t.Helper()
	var pids []int
	re := regexp.MustCompile(`\(pid (\d+),`)
	for _, out := range outputs {
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("make brokers printed %d broker pids, want 2", len(pids))
	}
	return pids
}

// record is what the comparison checks of each record: identical offsets and contents.
type record struct {
	partition int32
	offset    int64
	key, val  string
	headers   string
	timestamp int64
}

// readAll reads every record of topic from the start to its current end offsets.
func readAll(t *testing.T, addr, topic string) []record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := endOffsets(t, addr, topic)
	var want int64
	for _, e := range ends {
		want += e
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s on %s: %d of %d records: %v", topic, addr, len(out), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, record{r.Partition, r.Offset, string(r.Key), string(r.Value), fmt.Sprint(r.Headers), r.Timestamp.UnixMilli()})
		})
	}
	return out
}

func endOffsets(t *testing.T, addr, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s on %s: %v", topic, addr, err)
	}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends
}

// compareTopic checks the mirror record by record: every source record at the same partition and offset with the
// same key, value, headers and timestamp, and nothing else.
func compareTopic(t *testing.T, srcAddr, dstAddr, topic string) {
	t.Helper()
	src, dst := index(readAll(t, srcAddr, topic)), index(readAll(t, dstAddr, topic))
	if len(src) == 0 {
		t.Fatalf("the source topic %s is empty: make brokers should have produced to it", topic)
	}
	for k, r := range src {
		if m, ok := dst[k]; !ok {
			t.Errorf("%s[%d] offset %d: missing on the mirror", topic, k.p, k.o)
		} else if m != r {
			t.Errorf("%s[%d] offset %d: source %+v, mirror %+v", topic, k.p, k.o, r, m)
		}
	}
	if len(dst) != len(src) {
		t.Errorf("%s: %d records on the source, %d on the mirror", topic, len(src), len(dst))
	}
	t.Logf("%s: %d records at identical offsets on both clusters", topic, len(src))
}

type key struct {
	p int32
	o int64
}

func index(rs []record) map[key]record {
	m := map[key]record{}
	for _, r := range rs {
		m[key{r.partition, r.offset}] = r
	}
	return m
}

func tail(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
