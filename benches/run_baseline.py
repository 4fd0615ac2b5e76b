"""The parse-and-insert reference for benches/run.rs: what a first crawl costs
at the least. Fetch the JSON from the bench's loopback server, parse it, insert
every item into a fresh database with leakwatch's own schema, one transaction.
No diff, no matching, no outbox.
    python3 benches/run_baseline.py URL DB_PATH SCHEMA_SQL"""
import json, sqlite3, sys, urllib.request

url, db, schema = sys.argv[1:4]
items = json.load(urllib.request.urlopen(url))
conn = sqlite3.connect(db)
conn.execute("PRAGMA journal_mode=WAL")
conn.executescript(open(schema).read())
with conn:
    conn.executemany(
        "INSERT OR IGNORE INTO posting (source, key, victim, title, posted_at, body, first_seen_at, first_run_id)"
        " VALUES ('bench', ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z', 1)",
        ((i["post_title"].lower() + "\x1f", i["post_title"].lower(), i["post_title"], i["discovered"],
          i.get("description", "")) for i in items),
    )
print(conn.execute("SELECT count(*) FROM posting").fetchone()[0])
