module github.com/rdbferry/rdbferry

go 1.22

require github.com/hdt3213/rdb v1.3.2
