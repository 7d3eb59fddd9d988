#!/usr/bin/python3
"""deploy/grafana/wharf.json against the /metrics of a real `wharf serve`
(with a worker that ran jobs, so every series exists): each panel query
names only series that serve exports, with labels they carry, and its queue
regexes match real queues. A copy with a misspelt series must be caught."""
import copy
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()
DASH = os.path.join(env.src, "deploy", "grafana", "wharf.json")
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "clamp",
    "abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10", "time", "vector", "scalar", "sort",
    "sort_desc", "label_replace", "label_join", "absent", "changes", "resets", "avg_over_time", "max_over_time",
    "min_over_time", "sum_over_time", "count_over_time", "last_over_time", "label_values", "inf", "nan",
}


def scrape_series(text):
    """{series name: set of label names} from Prometheus text format."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", ln)
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        out.setdefault(m.group(1), set()).update(labels)
    return out


def queue_values(text):
    return set(re.findall(r'queue="([^"]+)"', text))


def check_dashboard(dash, series, queues):
    """Problems found in the dashboard's queries (a list of strings)."""
    problems = []
    exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if v.get("type") == "query":
            exprs.append(("variable " + v["name"], q["query"] if isinstance(q, dict) else q))
    if not exprs:
        problems.append("no queries at all")
    for where, e in exprs:
        lv = re.fullmatch(r"\s*label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*", e)
        if lv:  # a Grafana variable query: label_values(series, label)
            if lv.group(2) not in series.get(lv.group(1), ()):
                problems.append("%s: %s has no label %s" % (where, lv.group(1), lv.group(2)))
            continue
        # label matchers: names must exist on the series; queue regexes must match a real queue
        for metric, body in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", e):
            for name, op, val in re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body):
                if metric in series and name not in series[metric]:
                    problems.append("%s: %s has no label %s" % (where, metric, name))
                if name == "queue" and op in ("=~", "="):
                    rx = val.encode().decode("unicode_escape")
                    if not any(re.fullmatch(rx if op == "=~" else re.escape(rx), q) for q in queues):
                        problems.append("%s: queue %s %r matches no queue of /metrics" % (where, op, val))
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)
        bare = re.sub(r"\{[^}]*\}", "", bare)
        grouped = re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", bare)
        bare = re.sub(r"\b(by|without)\s*\([^)]*\)", r"\1", bare)
        names = [w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if w not in PROMQL_WORDS]
        used = [n for n in names if n in series]
        for n in names:
            if n not in series and not n.startswith("$"):
                problems.append("%s: %s is not a series of wharf serve's /metrics" % (where, n))
        if not used:
            problems.append("%s: %r names no wharf series" % (where, e))
        for g in grouped:
            for label in re.findall(r"\w+", g):
                if not any(label in series[n] for n in used):
                    problems.append("%s: grouped by %s, a label none of %s has" % (where, label, used))
    return problems


class GrafanaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        amqp, prefix = env.new_vhost(), env.new_prefix()
        w = env.start_worker(amqp, prefix, concurrency=2, families="system")
        srv = wharfserve.start(env, amqp, prefix)
        try:
            for args in (["system.noop"], ["system.fail", "--arg", "message=x"]):
                cp = env.wharf(["submit"] + args + ["--wait", "--timeout", "30"], amqp, prefix)
                assert cp.stdout.strip(), cp.stderr
            # stats rollups are flushed by the worker every second
            def scraped():
                st, _, body = srv.request("GET", "/metrics")
                return body if st == 200 and 'state="failed"' in body and "wharf_job_run_seconds_bucket" in body \
                    else None
            cls.metrics = wharftest.wait_for(scraped, timeout=20, what="job series in /metrics")
        finally:
            srv.stop()
            w.stop()
        cls.series = scrape_series(cls.metrics)
        cls.queues = queue_values(cls.metrics)
        with open(DASH) as f:
            cls.dash = json.load(f)

    def test_every_query_names_real_series(self):
        for want in ("wharf_jobs", "wharf_job_run_seconds_bucket", "wharf_queue_messages", "wharf_workers"):
            self.assertIn(want, self.series)
        self.assertEqual(check_dashboard(self.dash, self.series, self.queues), [])
        exported = {n for n in self.series if n.startswith("wharf_")}
        charted = {n for p in self.dash["panels"] for t in p["targets"] for n in exported
                   if re.search(r"\b%s\b" % n, t["expr"])}
        self.assertEqual(sorted(exported - charted), [], "series that no panel charts")

    def test_dashboard_shape(self):
        d = self.dash
        self.assertEqual(d["uid"], "wharf-overview")
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "duplicate panel ids")
        for p in d["panels"]:
            self.assertIn(p["type"], ("stat", "timeseries"))
            self.assertEqual(p["datasource"]["uid"], "${datasource}")
            self.assertTrue(p["targets"], p["title"])

    def test_checker_catches_mistakes(self):
        bad = copy.deepcopy(self.dash)
        t = bad["panels"][-1]["targets"][0]
        t["expr"] = t["expr"].replace("wharf_job_run_seconds_sum", "wharf_job_run_second_sum")
        bad["panels"][0]["targets"][0]["expr"] = 'max by (host) (wharf_workers)'
        bad["panels"][6]["targets"][0]["expr"] = 'max(wharf_queue_messages{queue=~"wharf\\\\.sytem"})'
        bad["templating"]["list"][1]["query"]["query"] = "label_values(wharf_jobs, family)"
        problems = "\n".join(check_dashboard(bad, self.series, self.queues))
        self.assertIn("wharf_job_run_second_sum is not a series", problems)
        self.assertIn("grouped by host", problems)
        self.assertIn("matches no queue", problems)
        self.assertIn("wharf_jobs has no label family", problems)


if __name__ == "__main__":
    unittest.main()
