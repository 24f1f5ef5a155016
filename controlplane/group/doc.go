// Package group is the membership of the daemons that share a link: it joins them into one group through the
// destination cluster's group coordinator with Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) under a protocol type of clusterlink's own, as Kafka Connect does with "connect", and its leader
// hands out the link's units of work (mirror partitions and the run-once loops) with a sticky, load-aware,
// incremental cooperative assignor: a unit moves only after its previous owner released it, or after the
// coordinator expelled that owner. It tells its owner which units to run and whether its ownership still holds
// (the lease a write checks); it never copies data, writes state or decides what the units are.
package group
