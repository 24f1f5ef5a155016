package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clusterlink/clusterlink/integration/kafkatest"
)

// mirrorMakerClasspath resolves MirrorMaker 2 (connect-mirror of the brokers' Kafka version) with mvn, from the pom
// beside this file.
func mirrorMakerClasspath() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	cp, err := kafkatest.ResolveClasspath(filepath.Join(filepath.Dir(file), "mm2", "pom.xml"), "mirrormaker2")
	if err != nil {
		return "", fmt.Errorf("resolve MirrorMaker 2: %w", err)
	}
	return cp, nil
}

// mirrorMakerConfig is a dedicated MirrorMaker 2 (connect-mirror-maker) configuration for one topic, tuned for
// catch-up throughput and documented line by line. Everything MM2 does besides copying records is turned off, so
// that it is measured on the same job as clusterlink.
func mirrorMakerConfig(src, dst []string, topic string, partitions int32, codecName string) string {
	lines := []string{
		"clusters = src, dst",
		"src.bootstrap.servers = " + strings.Join(src, ","),
		"dst.bootstrap.servers = " + strings.Join(dst, ","),
		"src->dst.enabled = true",
		"dst->src.enabled = false",
		"src->dst.topics = " + topic,
		// The topic keeps its name on the destination, as a mirror topic does.
		"replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
		// One task per partition: MM2's parallelism.
		"tasks.max = " + strconv.Itoa(int(partitions)),
		// Only the data: no heartbeats, checkpoints, group offset sync, ACL or config sync. Offset syncs cannot be
		// turned off while the source connector runs; they are made rare.
		"emit.heartbeats.enabled = false",
		"emit.checkpoints.enabled = false",
		"offset.lag.max = 1000000",
		"sync.group.offsets.enabled = false",
		"sync.topic.acls.enabled = false",
		"sync.topic.configs.enabled = false",
		"refresh.topics.interval.seconds = 5",
		"refresh.groups.enabled = false",
		// Single-broker clusters: internal topics with one replica.
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"offset.storage.replication.factor = 1",
		"status.storage.replication.factor = 1",
		"config.storage.replication.factor = 1",
		// The consumer reads big chunks, like clusterlink's fetches (5 MiB per partition, 50 MiB per response).
		"src.consumer.max.partition.fetch.bytes = 5242880",
		"src.consumer.fetch.max.bytes = 52428800",
		"src.consumer.max.poll.records = 10000",
		"src.consumer.fetch.min.bytes = 1",
		// The producer batches and compresses with the source's codec, acks=all like clusterlink.
		"dst.producer.compression.type = " + codecName,
		"dst.producer.batch.size = 1048576",
		"dst.producer.linger.ms = 5",
		"dst.producer.buffer.memory = 268435456",
		"dst.producer.max.request.size = 10485760",
		"dst.producer.acks = all",
		// Commit source offsets rarely: they are MM2's restart state, not part of the copy.
		"offset.flush.interval.ms = 10000",
	}
	return strings.Join(lines, "\n") + "\n"
}

// runMirrorMaker runs MirrorMaker 2 as a dedicated JVM until the destination topic's end offsets reach the
// source's, and measures it from /proc: CPU (utime+stime of the JVM) and peak RSS (VmHWM).
func runMirrorMaker(ctx context.Context, cp string, src, dst *kafkatest.Cluster, topic string, partitions int32,
	codecName string, ends map[int32]int64, records, bytes int64) (result, error) {
	dir, err := os.MkdirTemp("", "bench-mm2-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	props := filepath.Join(dir, "mm2.properties")
	if err := os.WriteFile(props, []byte(mirrorMakerConfig(src.BootstrapServers(), dst.BootstrapServers(), topic, partitions, codecName)), 0o644); err != nil {
		return result{}, err
	}
	logFile, err := os.Create(filepath.Join(dir, "mm2.log"))
	if err != nil {
		return result{}, err
	}
	defer logFile.Close()
	// The same JVM heap as the brokers' headroom allows; G1 like Kafka's own scripts.
	cmd := exec.Command("java", "-Xms1g", "-Xmx2g", "-XX:+UseG1GC", "-Dlog4j2.level=warn", "-cp", cp,
		"org.apache.kafka.connect.mirror.MirrorMaker", props)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start MirrorMaker 2: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()
	var want int64
	for _, e := range ends {
		want += e
	}
	var firstAt time.Duration
	var cpu, rss float64
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logFile.Name())
			return result{}, fmt.Errorf("MirrorMaker 2 exited: %v\n%s", err, tail(string(b), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 30*time.Minute {
			return result{}, fmt.Errorf("MirrorMaker 2 did not finish within 30 minutes")
		}
		if b, _ := os.ReadFile(logFile.Name()); strings.Contains(string(b), "Failed to configure MirrorSourceConnector") {
			return result{}, fmt.Errorf("MirrorMaker 2 refused its configuration:\n%s", tail(string(b), 4000))
		}
		c, r := procUsage(cmd.Process.Pid)
		if c > 0 {
			cpu, rss = c, r
		}
		got, err := endOffsets(ctx, dst, topic)
		if err != nil {
			continue
		}
		var have int64
		for _, e := range got {
			have += e
		}
		if have > 0 && firstAt == 0 {
			firstAt = time.Since(start)
		}
		if have >= want {
			break
		}
	}
	secs := time.Since(start).Seconds()
	return result{
		Name: "MirrorMaker 2 catch-up", Bytes: bytes, Records: records, Seconds: secs,
		MBps: float64(bytes) / 1e6 / secs, RecordsPerS: float64(records) / secs,
		CPUSeconds: cpu, CPUPerGiB: perGiB(cpu, bytes), PeakRSSMiB: rss,
		StartupSeconds: firstAt.Seconds(),
	}, nil
}

// procUsage reads a live process's CPU seconds (utime+stime) and peak RSS (VmHWM) in MiB.
func procUsage(pid int) (cpu, rssMiB float64) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	const ticks = 100 // USER_HZ on Linux
	cpu = (utime + stime) / ticks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				rssMiB = kb / 1024
			}
		}
	}
	return cpu, rssMiB
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
