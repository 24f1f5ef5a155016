package daemon

import (
	"fmt"
	"os"

	"github.com/clusterlink/clusterlink/controlplane/link"
)

// groupOptions make every link of the daemon a member of the group of the daemons with the same state topic and
// link: one daemon is a group of one (zero config); several share the link's partitions and loops.
func (d *Daemon) groupOptions(linkName string) *link.GroupOptions {
	host, _ := os.Hostname()
	return &link.GroupOptions{
		ID:                link.GroupID(d.store.Topic(), linkName),
		MemberName:        fmt.Sprintf("%s/%d", host, os.Getpid()),
		SessionTimeout:    d.opts.GroupSessionTimeout,
		HeartbeatInterval: d.opts.GroupHeartbeatInterval,
	}
}
