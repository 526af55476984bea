package rdb

import (
	"fmt"
	"strconv"
	"strings"
)

// Target describes a server, or a file, that will read data: its flavor and
// the newest RDB version it reads. A server reads every older Redis version
// too; Valkey reads Redis versions up to 11 and its own from 80.
//
// RESTORE takes a DUMP payload only when its version is at most the
// server's (Redis 2.6–3.2: exactly the server's), so payloads for a target
// are always framed with Target.Version.
type Target struct {
	Flavor  Flavor
	Version int
}

// String describes the target, e.g. "redis (RDB 10)".
func (t Target) String() string {
	return t.Flavor.String() + " (RDB " + strconv.Itoa(t.Version) + ")"
}

// releaseVersions maps server releases to the RDB version they write and
// read, newest first within each flavor. Sources: each release's
// src/rdb.h RDB_VERSION (see docs/rdb-versions.md).
var releaseVersions = []struct {
	flavor  Flavor
	release [2]int // major, minor: this release and later ones up to the previous row
	version int
}{
	{FlavorRedis, [2]int{8, 6}, 13},
	{FlavorRedis, [2]int{7, 4}, 12},
	{FlavorRedis, [2]int{7, 2}, 11},
	{FlavorRedis, [2]int{7, 0}, 10},
	{FlavorRedis, [2]int{5, 0}, 9},
	{FlavorRedis, [2]int{4, 0}, 8},
	{FlavorRedis, [2]int{3, 2}, 7},
	{FlavorRedis, [2]int{2, 6}, 6},
	{FlavorRedis, [2]int{2, 4}, 2},
	{FlavorRedis, [2]int{0, 0}, 1},
	{FlavorValkey, [2]int{9, 0}, 80},
	{FlavorValkey, [2]int{7, 2}, 11},
	{FlavorKeyDB, [2]int{5, 0}, 9},
	{FlavorKeyDB, [2]int{0, 0}, 8},
}

// TargetFor returns the target of a server release: flavor and a version
// string such as "7.0.15" (as INFO server reports redis_version,
// valkey_version or, for KeyDB, redis_version).
func TargetFor(flavor Flavor, release string) (Target, error) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return Target{}, fmt.Errorf("rdb: bad server version %q", release)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return Target{}, fmt.Errorf("rdb: bad server version %q", release)
	}
	for _, rv := range releaseVersions {
		if rv.flavor == flavor && (major > rv.release[0] || major == rv.release[0] && minor >= rv.release[1]) {
			return Target{Flavor: flavor, Version: rv.version}, nil
		}
	}
	return Target{}, fmt.Errorf("rdb: no RDB version known for %v %s", flavor, release)
}

// ReleaseFor returns the oldest release of the flavor that reads the given
// RDB version, e.g. "7.0" for Redis and RDB 10, or "" if none does.
func ReleaseFor(flavor Flavor, version int) string {
	release := ""
	for _, rv := range releaseVersions {
		if rv.flavor == flavor && rv.version >= version {
			release = strconv.Itoa(rv.release[0]) + "." + strconv.Itoa(rv.release[1])
		}
	}
	return release
}

// CanRead reports whether the target reads values of type t as they are.
// Module values are assumed readable: whether the module is loaded is the
// server's business.
func (t Target) CanRead(typ Type) bool {
	return VersionCanHold(t.Version, typ, t.Flavor == FlavorKeyDB)
}

// HasFieldTTLs reports whether the target can hold hash field expirations
// (Redis 7.4+, Valkey 9+).
func (t Target) HasFieldTTLs() bool {
	if t.Flavor == FlavorValkey {
		return t.Version >= ValkeyMinVersion
	}
	return t.Flavor == FlavorRedis && t.Version >= 12
}
