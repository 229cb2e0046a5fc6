"""Generates the MongoDB benchmark database: users with nested and array fields holding personal
data, and orders that reference users by ObjectId and products by integer id inside an array.

    python3 benches/mongo_seed.py URL DATABASE USERS
"""
import datetime
import sys

from bson import Decimal128, ObjectId
from pymongo import MongoClient

url, name, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = MongoClient(url + "/?directConnection=true")[name]
BATCH = 5000
base = datetime.datetime(1970, 1, 1)


def insert(collection, docs):
    for i in range(0, len(docs), BATCH):
        db[collection].insert_many(docs[i:i + BATCH], ordered=False)


db.products.insert_many([{"_id": p, "name": f"Product {p}", "price": Decimal128(f"{p % 500}.99")} for p in range(1000)])
ids = []
for start in range(0, users, BATCH):
    docs = []
    for i in range(start, min(users, start + BATCH)):
        oid = ObjectId(i.to_bytes(12, "big"))
        ids.append(oid)
        docs.append({
            "_id": oid,
            "email": f"user{i}@example.com",
            "name": {"first": f"First{i % 997}", "last": f"Last{i % 991}"},
            "address": {"street": f"{i % 400} Main Street", "city": f"City{i % 50}", "zip": f"{10000 + i % 89999}"},
            "contacts": [{"kind": "work", "email": f"work{i}@example.com"}, {"kind": "phone", "number": f"+1 555 {i % 10000:04d}"}],
            "born": base + datetime.timedelta(days=i % 18000),
            "active": i % 3 != 0,
            "score": i * 0.5,
        })
    insert("users", docs)
for start in range(0, 2 * users, BATCH):
    docs = []
    for i in range(start, min(2 * users, start + BATCH)):
        docs.append({
            "_id": i,
            "user_id": ids[i % users],
            "items": [{"product_id": i % 1000, "qty": 1 + i % 3}, {"product_id": (i * 7) % 1000, "qty": 1}],
            "total": Decimal128(f"{i % 1000}.50"),
            "placed": base + datetime.timedelta(seconds=i * 37),
        })
    insert("orders", docs)
print(f"{users} users, {2 * users} orders, 1000 products")
