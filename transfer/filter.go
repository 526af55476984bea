package transfer

import (
	"bytes"
	"regexp"
	"time"

	"github.com/rdbferry/rdbferry/rdb"
)

// Option configures Run.
type Option func(*config)

// KeyFilter decides whether a key is transferred. It must not keep k.
type KeyFilter func(k *rdb.Key) (keep bool, err error)

type config struct {
	filters       []KeyFilter
	alternatives  []*alternative
	dbMap         map[int]int
	rename        func(key []byte) []byte
	progressEvery time.Duration
	progress      func(Progress)
}

// DB keeps only the keys of the given databases.
func DB(dbs ...int) Option {
	set := map[int]bool{}
	for _, db := range dbs {
		set[db] = true
	}
	return Filter(func(k *rdb.Key) (bool, error) { return set[k.DB], nil })
}

// MapDB moves the keys of database from into database to (applied after
// the DB filter).
func MapDB(from, to int) Option {
	return func(c *config) {
		if c.dbMap == nil {
			c.dbMap = map[int]int{}
		}
		c.dbMap[from] = to
	}
}

// Match keeps only keys matching one of the Match patterns, with the glob
// semantics of Redis's KEYS and SCAN MATCH: * ? [abc] [^abc] [a-z] and \
// escapes. Several Match options are alternatives.
func Match(pattern string) Option {
	return func(c *config) {
		c.addAlternative("match", func(k []byte) bool { return GlobMatch([]byte(pattern), k) })
	}
}

// Exclude drops keys matching the glob pattern.
func Exclude(pattern string) Option {
	return Filter(func(k *rdb.Key) (bool, error) { return !GlobMatch([]byte(pattern), k.Key), nil })
}

// Regex keeps only keys matching re. Several Regex options are alternatives
// (and alternatives to Match and Prefix).
func Regex(re *regexp.Regexp) Option {
	return func(c *config) { c.addAlternative("match", re.Match) }
}

// ExcludeRegex drops keys matching re.
func ExcludeRegex(re *regexp.Regexp) Option {
	return Filter(func(k *rdb.Key) (bool, error) { return !re.Match(k.Key), nil })
}

// Prefix keeps only keys starting with p (an alternative to Match and Regex).
func Prefix(p string) Option {
	return func(c *config) {
		c.addAlternative("match", func(k []byte) bool { return bytes.HasPrefix(k, []byte(p)) })
	}
}

// ExcludePrefix drops keys starting with p.
func ExcludePrefix(p string) Option {
	return Filter(func(k *rdb.Key) (bool, error) { return !bytes.HasPrefix(k.Key, []byte(p)), nil })
}

// Types keeps only keys holding the given data types.
func Types(kinds ...rdb.Kind) Option {
	set := map[rdb.Kind]bool{}
	for _, k := range kinds {
		set[k] = true
	}
	return Filter(func(k *rdb.Key) (bool, error) { return set[k.Type.Kind()], nil })
}

// DropExpired drops keys whose expiration has passed when they are read.
// They are counted as skipped, not filtered.
func DropExpired() Option {
	return Filter(func(k *rdb.Key) (bool, error) {
		if k.ExpireAt != 0 && k.ExpireAt <= time.Now().UnixMilli() {
			return false, errExpired
		}
		return true, nil
	})
}

// Rename changes key names: fn returns the new name of each key (it may
// return its argument).
func Rename(fn func(key []byte) []byte) Option { return func(c *config) { c.rename = fn } }

// Filter adds a caller's filter; filters apply in order, before any value
// is decoded.
func Filter(f KeyFilter) Option { return func(c *config) { c.filters = append(c.filters, f) } }

// addAlternative merges filters of one group (Match, Regex, Prefix) into a
// single filter that keeps a key when any of them matches.
func (c *config) addAlternative(group string, match func([]byte) bool) {
	for _, a := range c.alternatives {
		if a.group == group {
			a.matchers = append(a.matchers, match)
			return
		}
	}
	a := &alternative{group: group, matchers: []func([]byte) bool{match}}
	c.alternatives = append(c.alternatives, a)
	c.filters = append(c.filters, func(k *rdb.Key) (bool, error) {
		for _, m := range a.matchers {
			if m(k.Key) {
				return true, nil
			}
		}
		return false, nil
	})
}

type alternative struct {
	group    string
	matchers []func([]byte) bool
}

// GlobMatch reports whether s matches the glob pattern exactly as Redis's
// stringmatchlen does for KEYS and SCAN MATCH (case-sensitive): * ? [abc]
// [^abc] [a-z] and \ escapes, with Redis's handling of the edge cases (an
// unterminated class, a pattern never matching an empty string).
func GlobMatch(pattern, s []byte) bool {
	skipLonger := false
	return globMatch(pattern, s, &skipLonger, 0)
}

// globMatch is a port of stringmatchlen_impl (redis src/util.c). at reads
// past the end as the NUL terminator C would see.
func globMatch(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false // protection against abusive patterns, as Redis
	}
	at := func(b []byte, i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	pi, si := 0, 0
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for pi < len(p) && at(p, pi+1) == '*' {
				pi++
			}
			if len(p)-pi == 1 {
				return true
			}
			for si < len(s) {
				if globMatch(p[pi+1:], s[si:], skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			not := at(p, pi) == '^'
			if not {
				pi++
			}
			match := false
			for {
				if at(p, pi) == '\\' && len(p)-pi >= 2 {
					pi++
					if p[pi] == s[si] {
						match = true
					}
				} else if at(p, pi) == ']' {
					break
				} else if pi >= len(p) {
					pi--
					break
				} else if len(p)-pi >= 3 && p[pi+1] == '-' {
					lo, hi := p[pi], p[pi+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					pi += 2
					if s[si] >= lo && s[si] <= hi {
						match = true
					}
				} else if p[pi] == s[si] {
					match = true
				}
				pi++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if p[pi] != s[si] {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(p, pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi >= len(p) && si == len(s)
}
