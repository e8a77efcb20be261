// Package eventbus is the talk's last strategy, the "immutable event bus
// (Kafka-ish)", rebuilt on Redis Streams. The web side XADDs each job as an
// event and answers 202 with the event's position; it never waits for, or
// knows about, the handlers. Each handler is a consumer group: `email`
// delivers the mail, `audit` appends every event to a list, and any number
// of consumers in one group share that group's work.
//
// Why it is better: one event feeds several independent handlers, each
// with its own cursor; history stays, so a handler can be replayed (`offload
// eventbus replay`) or added later and catch up from the start, without
// touching the others. Redis keeps, per group, which entries were delivered
// and not yet acknowledged (the pending list), so an entry is acknowledged
// (XACK) only after its handler succeeded, a dead consumer's entries are
// taken over with XAUTOCLAIM after --claim-idle, and an entry delivered
// --max-deliveries times goes to a dead-letter stream with the reason. A
// temporary handler failure (an SMTP 4xx, a network error) is retried
// in-process, --max-attempts runs per delivery with exponential backoff
// and jitter from --backoff, without an ack: the entry stays pending, its
// idle time refreshed, so a consumer dying mid-retry still leaves it to
// XAUTOCLAIM, and the mail goes out one backoff after the mail server is
// back instead of one claim-idle per event. GET /jobs/{id} answers from the
// stream and the groups' state.
//
// The talk's own list of eventr's problems, and what Streams does instead:
//
//   - "We would need a lot of Lua": none here. XREADGROUP is the blocking
//     get-and-increment eventr wrote in Lua; the group's cursor is the
//     counter hash; one stream key per partition replaces the sorted set of
//     time partitions and the "seek the next key" script.
//   - "Do we really need to store our history in RAM?": a stream stores
//     entries in compact radix-tree nodes rather than one list element per
//     event, and with --retain/--retain-count it is trimmed (MINID), never
//     past an entry a group has not acknowledged (see Trim for the exact
//     exceptions). It is still RAM: that problem is bounded, not gone.
//   - "We'll need to delete the old keys after a while": trimming is a
//     single XTRIM on the same key, done by the consumers; no partition keys
//     to find and delete.
//   - "Storing more events to a single key gains nothing from redis-cluster":
//     --partitions N writes N stream keys chosen by a hash of the job id,
//     each with a hash tag that puts it on a different master (keys.go), so
//     a cluster spreads the work over its masters (order holds per
//     partition).
//   - Handlers ran before the offset was safe (eventr incremented the
//     counter on read, so a crash mid-handler lost the event): a delivered
//     entry stays pending until XACK, and XAUTOCLAIM re-delivers it.
//
// Why it is still a bad idea (sometimes): delivery is at-least-once — a
// consumer killed after sending a mail but before XACK causes a second mail
// when its entry is claimed; handlers must be idempotent. A permanent
// failure, or one whose in-process attempts ran out, is retried only after
// --claim-idle, which must also exceed the slowest handler run or live work
// is stolen and done twice. An event being retried holds its handler slot,
// so during an outage longer than the backoffs the consumer reads nothing
// new (the events wait in the stream, counted as lag). Order holds per
// partition and per ordered handler, not across partitions or after a
// claim. History is RAM, bounded only by the retention you choose, and a
// replay reaches only what is retained. The job index behind GET /jobs/{id}
// is a second write after XADD (not atomic with it) and expires after
// IndexTTL. While Redis is down the web side answers 503; a 503 whose XADD
// did reach Redis before the connection broke means a client retry stores
// the event twice.
//
// On a Redis Cluster every command names one stream, so nothing is
// CROSSSLOT: a consumer reads, claims and trims each partition in its own
// loop, on the master that holds it. After a failover (a master killed,
// its replica promoted) the clients find the new master within a second
// and carry on; the groups were replicated with the stream. What the
// replica had not received is gone: events answered 202 (unless --durable
// wait, which answers 202 only once a replica acknowledged the XADD) and
// acks (those events are delivered again). A group missing after all
// (NOGROUP) is re-created below the lowest entry it last still needed:
// duplicates, not losses. While a partition's master is away, that
// partition answers 503 and the others go on; with --durable wait it also
// answers 503 until the promoted master has a replica again.
//
// What the harness shows: 202s at XADD speed, zero lost jobs on worker
// crash (with duplicates counted), recovery after a Redis restart with
// appendonly, per-group lag on /metrics.
package eventbus
