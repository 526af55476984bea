module github.com/rdbferry/rdbferry

go 1.22

require (
	github.com/hdt3213/rdb v1.3.2
	github.com/klauspost/compress v1.18.0
	github.com/pierrec/lz4/v4 v4.1.23
)
