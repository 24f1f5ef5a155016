package main

import (
	"github.com/twmb/franz-go/pkg/kfake"
)

// ceiling measures clusterlink alone: a kfake source serves copies of one canned batch (kfake.SyntheticFetch) from
// any offset, and a kfake destination acknowledges every produce without storing it (kfake.BlackholeProduce), both
// in this process; clusterlink runs in a child process until it has copied bytes of record values, so its CPU and
// memory are its own. What limits it is clusterlink itself and the loopback network.
func ceiling(bytes int64, recordSize int, codecName string, partitions int32) (result, error) {
	c, err := codec(codecName)
	if err != nil {
		return result{}, err
	}
	src, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SyntheticFetch(kfake.SyntheticBatch{
		RecordBytes: recordSize, RandomFrac: 0.5, Compression: c,
	}))
	if err != nil {
		return result{}, err
	}
	defer src.Close()
	dst, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BlackholeProduce())
	if err != nil {
		return result{}, err
	}
	defer dst.Close()
	const topic = "ceiling"
	if err := src.CreateTopic(topic, partitions, nil); err != nil {
		return result{}, err
	}
	records := bytes / int64(recordSize)
	cmd := childCommand("ceiling", src.ListenAddrs(), dst.ListenAddrs(), topic, records)
	return runChildMeasured(cmd, "clusterlink ceiling (kfake, no brokers)", bytes, records)
}
