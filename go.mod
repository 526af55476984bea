module github.com/rdbferry/rdbferry

go 1.22

require (
	github.com/hdt3213/rdb v1.3.2
	github.com/klauspost/compress v1.18.0
	github.com/pierrec/lz4/v4 v4.1.23
	github.com/schollz/progressbar/v3 v3.18.0
	golang.org/x/sys v0.29.0
	golang.org/x/term v0.28.0
)

require (
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
)
