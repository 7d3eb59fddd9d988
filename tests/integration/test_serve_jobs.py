#!/usr/bin/python3
"""GET /v1/jobs against real servers: newest first, filters by state, type,
target and creation time, text in args, one job by id, cursor paging (ids
created in the same millisecond included), the per-request scan cap, and the
per-type and per-target indexes and the args that enqueue.lua writes."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("WHARF_SRC", "."), "tests", "lib"))
import wharfserve  # noqa: E402
import wharftest  # noqa: E402

env = wharftest.Env()


class JobListTest(wharfserve.ServeCase):
    # No worker: submitted jobs stay queued (or scheduled, or cancelled).
    env = env

    def setUp(self):
        # every test lists a fresh prefix's worth of jobs
        self.clear()

    def tearDown(self):
        # and leaves none behind (scheduled jobs keep msgpack bodies, which
        # tests that read every key of the database take for text)
        self.clear()

    def clear(self):
        r = env.redis()
        keys = list(r.scan_iter(match=self.prefix + "*", count=10000))
        for i in range(0, len(keys), 1000):
            r.delete(*keys[i:i + 1000])

    def list(self, query, expect=200):
        st, _, b = self.srv.request("GET", "/v1/jobs?" + query)
        self.assertEqual(st, expect, (query, b))
        return b

    def walk(self, query, limit):
        """Every page of a query; the ids in order."""
        ids, cursor, pages = [], None, 0
        while True:
            b = self.list(query + "&limit=%d" % limit + ("&cursor=" + cursor if cursor else ""))
            ids += [j["id"] for j in b["jobs"]]
            pages += 1
            self.assertLess(pages, 1000, "paging does not end")
            cursor = b["next_cursor"]
            if cursor is None:
                return ids

    def synthetic(self, jobs):
        """Write job hashes and their index entries as enqueue.lua does:
        jobs = [(id, type, target, state, created_at)]."""
        pipe = env.redis().pipeline(transaction=False)
        p = self.prefix
        for jid, typ, target, state, at in jobs:
            pipe.hset(p + "job:" + jid, mapping={"id": jid, "type": typ, "target": target, "state": state,
                                                 "created_at": at, "attempt": 0, "max_attempts": 3})
            pipe.zadd(p + "recent", {jid: at})
            pipe.zadd(p + "recent:type:" + typ, {jid: at})
            if target:
                pipe.zadd(p + "recent:target:" + target, {jid: at})
        pipe.execute()

    def submit(self, body):
        st, _, b = self.srv.request("POST", "/v1/jobs", body)
        self.assertEqual(st, 201, b)
        return b["id"]

    def test_submitted_jobs_fill_the_indexes_and_filter(self):
        later = int(time.time() * 1000) + 3600 * 1000
        made = []
        for i in range(12):
            body = {"type": "system.sleep" if i % 3 == 0 else "system.noop", "id": "sub-%02d" % i}
            if i % 3 == 0:
                body["args"] = {"ms": 1}
            if i % 2:
                body["target"] = "h1" if i % 4 == 1 else "h2"
            if i in (4, 5):
                body["run_at"] = later
            made.append((self.submit(body), body))
            time.sleep(0.002)  # distinct created_at: the order is known
        self.assertEqual(self.srv.request("POST", "/v1/jobs/sub-06/cancel")[0], 200)
        r, p = env.redis(), self.prefix
        self.assertEqual(r.zcard(p + "recent:type:system.sleep"), 4)
        self.assertEqual(r.zcard(p + "recent:target:h1"), 3)
        self.assertEqual(r.smembers(p + "recent:indexes"),
                         {"type:system.noop", "type:system.sleep", "target:h1", "target:h2"})
        newest_first = [jid for jid, _ in reversed(made)]
        self.assertEqual([j["id"] for j in self.list("limit=100")["jobs"]], newest_first)
        self.assertEqual(self.walk("x=1", 5), newest_first)

        def ids(q):
            return [j["id"] for j in self.list(q + "&limit=100")["jobs"]]
        self.assertEqual(ids("type=system.sleep"), ["sub-09", "sub-06", "sub-03", "sub-00"])
        self.assertEqual(ids("target=h1"), ["sub-09", "sub-05", "sub-01"])
        self.assertEqual(ids("target=h1&type=system.sleep"), ["sub-09"])
        self.assertEqual(ids("state=scheduled"), ["sub-05", "sub-04"])
        self.assertEqual(ids("state=scheduled,cancelled"), ["sub-06", "sub-05", "sub-04"])
        self.assertEqual(ids("state=cancelled&target=h2"), [])
        self.assertEqual(ids("id=sub-06"), ["sub-06"])
        self.assertEqual(ids("id=sub-06&state=queued"), [])
        self.assertEqual(ids("id=nothing-here"), [])
        at = {jid: self.srv.request("GET", "/v1/jobs/" + jid)[2]["created_at"] for jid, _ in made}
        self.assertEqual(ids("since=%d&until=%d" % (at["sub-03"], at["sub-05"])), ["sub-05", "sub-04", "sub-03"])
        b = self.list("id=sub-01")
        self.assertEqual((b["scanned"], b["truncated"], b["next_cursor"]), (1, False, None))

    def test_same_millisecond_pages_neither_repeat_nor_skip(self):
        # 450 jobs created in one millisecond, 50 in the next: pages of 100
        # and of 7 return each exactly once, newest first.
        jobs = [("ms-%03d" % i, "system.noop", "", "queued", 1000 if i < 450 else 1001) for i in range(500)]
        self.synthetic(jobs)
        for limit in (100, 7):
            got = self.walk("type=system.noop", limit)
            self.assertEqual(len(got), 500, limit)
            self.assertEqual(set(got), {j[0] for j in jobs})
            self.assertEqual(set(got[:50]), {j[0] for j in jobs[450:]})

    def test_scan_cap_truncates_and_the_cursor_goes_on(self):
        # One failed job under 6,000 queued ones: the first page looks at
        # 5,000 entries, says truncated and where to go on.
        jobs = [("old-fail", "system.fail", "", "failed", 10)]
        jobs += [("q-%05d" % i, "system.noop", "", "queued", 100 + i) for i in range(6000)]
        self.synthetic(jobs)
        b = self.list("state=failed&limit=10")
        self.assertEqual((b["jobs"], b["scanned"], b["truncated"]), ([], 5000, True), b["next_cursor"])
        b = self.list("state=failed&limit=10&cursor=" + b["next_cursor"])
        self.assertEqual([j["id"] for j in b["jobs"]], ["old-fail"])
        self.assertEqual((b["scanned"], b["truncated"], b["next_cursor"]), (1001, False, None))
        # the type index makes the same question one entry long
        b = self.list("type=system.fail&state=failed")
        self.assertEqual(([j["id"] for j in b["jobs"]], b["scanned"]), (["old-fail"], 1))
        # expired hashes are skipped
        env.redis().delete(self.prefix + "job:q-05999")
        self.assertEqual(self.list("limit=1")["jobs"][0]["id"], "q-05998")

    def test_args_are_kept_shown_and_searched(self):
        args = {"url": "https://Web1.Example/x", "ms": 5, "z": [1.5, "\u00e9"], "a": {"k": None}}
        jid = self.submit({"type": "system.sleep", "args": {"ms": 1}, "id": "plain"})
        big = self.submit({"type": "system.noop", "args": {"text": "x" * 9000}, "id": "big"})
        time.sleep(0.002)
        self.submit({"type": "system.noop", "args": args, "id": "web"})
        r, p = env.redis(), self.prefix
        # canonical JSON: compact, keys sorted, as every client writes it
        self.assertEqual(r.hget(p + "job:web", "args"),
                         '{"a":{"k":null},"ms":5,"url":"https://Web1.Example/x","z":[1.5,"\u00e9"]}')
        self.assertEqual(r.hget(p + "job:" + jid, "args"), '{"ms":1}')
        # over the cap: only the size is kept
        self.assertIsNone(r.hget(p + "job:" + big, "args"))
        self.assertEqual(r.hget(p + "job:" + big, "args_truncated"), str(len('{"text":""}') + 9000))
        st, _, job = self.srv.request("GET", "/v1/jobs/web")
        self.assertEqual((st, job["args"]), (200, args))
        self.assertEqual(self.srv.request("GET", "/v1/jobs/big")[2]["args_truncated"], 9011)

        def ids(q):
            return [j["id"] for j in self.list(q)["jobs"]]
        self.assertEqual(ids("q=web1.example"), ["web"])     # ASCII case ignored
        self.assertEqual(ids("q=%22ms%22"), ["web", "plain"])  # the JSON text: keys too
        self.assertEqual(ids("q=%22ms%22&type=system.sleep"), ["plain"])
        self.assertEqual(ids("q=%C3%A9"), ["web"])           # UTF-8 as it is
        self.assertEqual(ids("q=xxxx"), [])                  # truncated args are not searched
        self.assertEqual(ids("q=web1&id=web"), ["web"])
        self.assertEqual(ids("q=web1&id=plain"), [])

    def test_args_search_is_bounded_and_goes_on(self):
        # The one match is older than 6,000 others: a search looks at 5,000
        # entries, then the cursor finds it.
        jobs = [("needle", "system.noop", "", "queued", 10)]
        jobs += [("hay-%05d" % i, "system.noop", "", "queued", 100 + i) for i in range(6000)]
        self.synthetic(jobs)
        pipe = env.redis().pipeline(transaction=False)
        for jid, *_ in jobs:
            pipe.hset(self.prefix + "job:" + jid, "args", '{"name":"%s"}' % ("Needle-1" if jid == "needle" else jid))
        pipe.execute()
        b = self.list("q=needle-1")
        self.assertEqual((b["jobs"], b["scanned"], b["truncated"]), ([], 5000, True))
        b = self.list("q=needle-1&cursor=" + b["next_cursor"])
        self.assertEqual(([j["id"] for j in b["jobs"]], b["next_cursor"]), (["needle"], None))
        self.assertEqual(b["jobs"][0]["args"], {"name": "Needle-1"})

    def test_bad_queries_name_the_field(self):
        for q, field in (("state=bogus", "state"), ("state=queued,", "state"), ("type=Bad", "type"),
                         ("target=-x", "target"), ("since=x", "since"), ("until=-5", "until"),
                         ("cursor=12", "cursor"), ("cursor=a:1", "cursor"), ("id=a.b", "id"),
                         ("limit=0", "limit"), ("q=", "q"), ("q=" + "x" * 201, "q")):
            b = self.list(q, expect=400)
            self.assertEqual((b["error"]["code"], b["error"]["field"]), ("usage", field), q)


if __name__ == "__main__":
    unittest.main()
