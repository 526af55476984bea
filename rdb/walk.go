package rdb

// skipValue walks over a value of type t without decoding it: lengths are
// read, bytes are skipped, nothing is allocated.
func (r *Reader) skipValue(t Type) error {
	switch t {
	case TypeString, TypeHashZipmap, TypeListZiplist, TypeSetIntset, TypeZSetZiplist,
		TypeHashZiplist, TypeHashListpack, TypeZSetListpack, TypeSetListpack,
		TypeHashListpackExPreGA:
		return r.skipString()
	case TypeList, TypeSet, TypeListQuicklist:
		return r.skipStrings(1)
	case TypeHash:
		return r.skipStrings(2)
	case TypeZSet:
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.skipTextScore(); err != nil {
				return err
			}
		}
		return nil
	case TypeZSet2:
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.skip(8); err != nil {
				return err
			}
		}
		return nil
	case TypeListQuicklist2:
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if _, err := r.readLength(); err != nil {
				return err
			}
			if err := r.skipString(); err != nil {
				return err
			}
		}
		return nil
	case TypeHashMetadataPreGA:
		// len, then (ttl, field, value) triples.
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if _, err := r.readLength(); err != nil {
				return err
			}
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.skipString(); err != nil {
				return err
			}
		}
		return nil
	case TypeHashMetadata:
		// minExpire, len, then (ttl, field, value) triples.
		if err := r.skip(8); err != nil {
			return err
		}
		return r.skipValue(TypeHashMetadataPreGA)
	case TypeHashListpackEx:
		if err := r.skip(8); err != nil {
			return err
		}
		return r.skipString()
	case TypeValkeyHash2:
		// len, then (field, value, int64 expire) triples.
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.skipString(); err != nil {
				return err
			}
			if err := r.skip(8); err != nil {
				return err
			}
		}
		return nil
	case TypeStreamListpacks, TypeStreamListpacks2, TypeStreamListpacks3, TypeStreamListpacks4:
		return r.skipStream(t)
	case TypeModule2:
		if _, err := r.readLength(); err != nil { // module id
			return err
		}
		return r.skipModuleBody()
	case TypeKeyDBCron:
		// script, start ms, interval ms, keys, args.
		if err := r.skipString(); err != nil {
			return err
		}
		if err := r.skip(16); err != nil {
			return err
		}
		if err := r.skipStrings(1); err != nil {
			return err
		}
		return r.skipStrings(1)
	case TypeModulePreGA:
		return unsupportedf("module value in the pre-GA format of Redis 4.0 release candidates")
	}
	return unsupportedf("object type %d in RDB version %d", t.Byte(), r.version)
}

// skipStrings reads a count and skips count*per strings.
func (r *Reader) skipStrings(per int) error {
	n, err := r.readCount()
	if err != nil {
		return err
	}
	for i := 0; i < n*per; i++ {
		if err := r.skipString(); err != nil {
			return err
		}
	}
	return nil
}

// skipLengths reads and drops n lengths.
func (r *Reader) skipLengths(n int) error {
	for i := 0; i < n; i++ {
		if _, err := r.readLength(); err != nil {
			return err
		}
	}
	return nil
}

// skipTextScore skips a score of the original ZSET type: a 1-byte length
// and ASCII digits, or 253/254/255 for nan/+inf/-inf.
func (r *Reader) skipTextScore() error {
	b, err := r.readByte()
	if err != nil {
		return err
	}
	if b >= 253 {
		return nil
	}
	return r.skip(uint64(b))
}

// skipStream walks a stream of type 15, 19 or 21.
func (r *Reader) skipStream(t Type) error {
	// Listpack nodes: (16-byte master id string, listpack string) pairs.
	if err := r.skipStrings(2); err != nil {
		return err
	}
	// length, last id (ms, seq).
	lens := 3
	if t >= TypeStreamListpacks2 {
		lens += 5 // first id, max deleted id, entries added
	}
	if err := r.skipLengths(lens); err != nil {
		return err
	}
	groups, err := r.readCount()
	if err != nil {
		return err
	}
	for g := 0; g < groups; g++ {
		if err := r.skipString(); err != nil { // name
			return err
		}
		lens := 2 // last delivered id
		if t >= TypeStreamListpacks2 {
			lens++ // entries read
		}
		if err := r.skipLengths(lens); err != nil {
			return err
		}
		// Group PEL: 16-byte raw id, 8-byte delivery time, delivery count.
		pel, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < pel; i++ {
			if err := r.skip(24); err != nil {
				return err
			}
			if _, err := r.readLength(); err != nil {
				return err
			}
		}
		consumers, err := r.readCount()
		if err != nil {
			return err
		}
		for c := 0; c < consumers; c++ {
			if err := r.skipString(); err != nil { // name
				return err
			}
			times := uint64(8) // seen time
			if t >= TypeStreamListpacks3 {
				times += 8 // active time
			}
			if err := r.skip(times); err != nil {
				return err
			}
			n, err := r.readCount()
			if err != nil {
				return err
			}
			if err := r.skip(16 * uint64(n)); err != nil {
				return err
			}
		}
	}
	if t >= TypeStreamListpacks4 {
		return r.skipStreamIDMP()
	}
	return nil
}

// skipStreamIDMP walks the IDMP trailer of type 26: duration, max entries,
// producers (pid, then (iid, id ms, id seq) entries), iids added, duplicates.
func (r *Reader) skipStreamIDMP() error {
	if err := r.skipLengths(2); err != nil {
		return err
	}
	producers, err := r.readCount()
	if err != nil {
		return err
	}
	for p := 0; p < producers; p++ {
		if err := r.skipString(); err != nil {
			return err
		}
		n, err := r.readCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skipString(); err != nil {
				return err
			}
			if _, err := r.readStreamID(); err != nil {
				return err
			}
		}
	}
	if err := r.skipLengths(2); err != nil {
		return err
	}
	return nil
}
