package kafkatest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Node is one Kafka process: a combined KRaft broker and controller.
type Node struct {
	ID             int
	Port           int // the client listener
	ControllerPort int
	Listeners      map[string]int // extra listener name -> port (see Listener)

	// external is set for nodes this package does not run as processes (the testcontainers backend): process
	// control returns it.
	external error

	dir       string
	classpath string
	heap      string
	logf      func(string, ...any)

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	logFile *os.File
}

func (n *Node) dataDir() string { return filepath.Join(n.dir, "data") }

// LogPath is the node's log file: everything the broker printed, across restarts.
func (n *Node) LogPath() string { return filepath.Join(n.dir, "server.log") }

// PID is the node's process id while it runs, 0 otherwise.
func (n *Node) PID() int {
	if !n.Running() || n.external != nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd.Process.Pid
}

// Addr is the node's client listener address.
func (n *Node) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.Port) }

// format runs Kafka's own storage tool on the node's data directory.
func (n *Node) format(clusterID string) error {
	cmd := exec.Command("java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", n.classpath,
		"-Dlog4j2.configurationFile="+filepath.Join(n.dir, "log4j2.properties"),
		"kafka.tools.StorageTool", "format", "--cluster-id="+clusterID, "-c", filepath.Join(n.dir, "server.properties"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("format node %d storage: %w\n%s", n.ID, err, out)
	}
	return nil
}

// Start launches the node's process. It does not wait for readiness; Cluster.WaitReady does.
func (n *Node) Start() error {
	if n.external != nil {
		return n.external
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("node %d is already running", n.ID)
	}
	logFile, err := os.OpenFile(n.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open node %d log: %w", n.ID, err)
	}
	fmt.Fprintf(logFile, "==== kafkatest: starting node %d at %s\n", n.ID, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command("java",
		"-Xms"+n.heap, "-Xmx"+n.heap,
		"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent",
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+filepath.Join(n.dir, "log4j2.properties"),
		"-cp", n.classpath,
		"kafka.Kafka", filepath.Join(n.dir, "server.properties"))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so the whole tree can be signalled; and killed if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start node %d: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.logFile, n.exitErr = cmd, exited, logFile, nil
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	if n.logf != nil {
		n.logf("kafkatest: node %d started (pid %d, %s)", n.ID, cmd.Process.Pid, n.Addr())
	}
	return nil
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	if n.external != nil {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// exitedEarly returns an error if the process has exited on its own.
func (n *Node) exitedEarly() error {
	if n.external != nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("node %d is not running", n.ID)
	}
	select {
	case <-n.exited:
		return fmt.Errorf("node %d exited during startup: %v (see %s)", n.ID, n.exitErr, n.LogPath())
	default:
		return nil
	}
}

// Stop shuts the node down with SIGTERM (a controlled shutdown), and kills it if it has not exited in 30s.
func (n *Node) Stop() error { return n.signal(syscall.SIGTERM, 30*time.Second) }

// Kill ends the node with SIGKILL, as a crash would: no controlled shutdown, no flush.
func (n *Node) Kill() error { return n.signal(syscall.SIGKILL, 10*time.Second) }

// Restart stops the node (gracefully) and starts it again with the same data, ports and config. Wait for it with
// Cluster.WaitReady.
func (n *Node) Restart() error {
	if err := n.Stop(); err != nil {
		return err
	}
	return n.Start()
}

func (n *Node) signal(sig syscall.Signal, grace time.Duration) error {
	if n.external != nil {
		return n.external
	}
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.logFile != nil {
		fmt.Fprintf(n.logFile, "==== kafkatest: node %d ended by %v at %s\n", n.ID, sig, time.Now().Format(time.RFC3339Nano))
		n.logFile.Close()
		n.logFile = nil
	}
	n.cmd = nil
	if n.logf != nil {
		n.logf("kafkatest: node %d ended by %v", n.ID, sig)
	}
	var exitErr *exec.ExitError
	if n.exitErr != nil && !errors.As(n.exitErr, &exitErr) {
		return fmt.Errorf("wait for node %d: %w", n.ID, n.exitErr)
	}
	return nil
}
