// Package hashslot computes Redis Cluster hash slots and picks hash tags
// that land in chosen parts of the slot space. Redis Cluster lets a
// multi-key command or script touch keys of one slot only, and places
// slots on masters in ranges; so a queue (or a stream) that is to be
// spread over masters needs one {tag} per part, chosen so that the tags'
// slots are far apart. The choice is a pure function of the names, so a
// web process and a worker on another machine agree on it without asking
// the cluster.
package hashslot

import (
	"strconv"
	"strings"
)

// Slots is the number of hash slots of every Redis Cluster.
const Slots = 16384

// Slot is the hash slot of key, as Redis Cluster computes it: CRC16
// (XMODEM) of the key, or of the part between the first '{' and the next
// '}' when that part is not empty, modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % Slots)
}

// HasTag(s) reports whether s contains a non-empty {hash tag}.
func HasTag(s string) bool {
	i := strings.IndexByte(s, '{')
	return i >= 0 && strings.IndexByte(s[i+1:], '}') > 0
}

// Spread returns n hash tags (without braces) derived from base, the i-th
// of which hashes into the middle half of the i-th of n equal slot ranges.
// `redis-cli --cluster create` gives each of M masters one equal range, so
// with n = M (or a multiple of it) the tags land on distinct masters, and
// they stay apart by at least a quarter range under a slightly uneven
// split. Candidates are base-0, base-1, ...: the first that fits wins.
func Spread(base string, n int) []string {
	if n <= 0 {
		return nil
	}
	width := Slots / n
	out := make([]string, n)
	k := 0
	for i := range out {
		lo, hi := i*width+width/4, i*width+width-width/4
		for ; ; k++ {
			tag := base + "-" + strconv.Itoa(k)
			if s := Slot(tag); s >= lo && s < hi {
				out[i] = tag
				k++
				break
			}
		}
	}
	return out
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the checksum of
// the Redis Cluster specification.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
