module github.com/rdbferry/rdbferry

go 1.22
