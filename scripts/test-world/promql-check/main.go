// promql-check validates Prometheus rule files with Prometheus's own rulefmt and PromQL parser, and prints
// the metric names each expression selects, as JSON, for the chart tests (packages/charts-test).
//
//	promql-check rules FILE...   rule files (groups: [...]); exit 1 on any error
//	promql-check exprs           PromQL expressions on stdin, one per line
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error,omitempty"`
}

func metricsOf(p parser.Parser, expr string) result {
	parsed, err := p.ParseExpr(expr)
	if err != nil {
		return result{Expr: expr, Metrics: []string{}, Error: err.Error()}
	}
	seen := map[string]bool{}
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		if selector, ok := node.(*parser.VectorSelector); ok {
			name := selector.Name
			for _, matcher := range selector.LabelMatchers {
				if matcher.Name == model.MetricNameLabel && name == "" {
					name = matcher.Value
				}
			}
			seen[name] = true
		}
		return nil
	})
	metrics := []string{}
	for name := range seen {
		metrics = append(metrics, name)
	}
	sort.Strings(metrics)
	return result{Expr: expr, Metrics: metrics}
}

func main() {
	p := parser.NewParser(parser.Options{})
	if len(os.Args) < 2 || (os.Args[1] != "rules" && os.Args[1] != "exprs") {
		fmt.Fprintln(os.Stderr, "usage: promql-check rules FILE... | promql-check exprs < expressions")
		os.Exit(2)
	}
	results := []result{}
	failed := false
	if os.Args[1] == "rules" {
		logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
		for _, file := range os.Args[2:] {
			groups, errs := rulefmt.ParseFile(file, false, model.UTF8Validation, p, logger)
			for _, err := range errs {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				failed = true
			}
			if groups == nil {
				continue
			}
			for _, group := range groups.Groups {
				for _, rule := range group.Rules {
					results = append(results, metricsOf(p, rule.Expr))
				}
			}
		}
	} else {
		scanner := bufio.NewScanner(os.Stdin)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		for scanner.Scan() {
			if line := scanner.Text(); line != "" {
				results = append(results, metricsOf(p, line))
			}
		}
	}
	for _, r := range results {
		if r.Error != "" {
			failed = true
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}
