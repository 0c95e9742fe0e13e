"""The document store behaves the same on embedded NeoSQLite and on MongoDB.

Every test taking `store` runs twice: on NeoSQLite in a tmp dir and through
pymongo on a loopback MongoDB wire-protocol server (tests/conftest.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import typing
from datetime import UTC, date, datetime, timedelta, timezone

import bson
import neosqlite.exceptions as neo_errors
import pytest
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo import errors as pymongo_errors

from assistant.settings import Settings
from retrieval.docstore import (
    INDEXES,
    DuplicateKeyError,
    StoreError,
    StoreUnavailable,
    UnsupportedQuery,
    apply_projection,
    handle_filter,
    is_real_mongodb,
    normalise_filter,
    open_store,
)
from retrieval.errors import map_error, translate_errors
from retrieval.records import SOURCES


def ids(documents) -> list:
    return [document["_id"] for document in documents]


def seed(store, name="items", count=5):
    values = [3, 1, 5, 2, 4]
    store[name].insert_many(
        [{"_id": f"i{n}", "v": values[n % 5], "group": "odd" if n % 2 else "even"} for n in range(count)]
    )
    return store[name]


# --- opening, health, lifecycle ------------------------------------------------------------


def test_open_store_reports_its_backend(store, store_settings):
    expected = "neosqlite" if store_settings.mongodb_uri is None else "mongodb"
    assert store.backend == expected
    store.ping()


def test_embedded_store_lives_in_the_data_dir_and_survives_reopening(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", mongodb_uri=None)
    with open_store(settings) as store:
        store["customers"].insert_one({"_id": "C1", "first_name": "Ana"})
    assert (tmp_path / "data" / "fargo.db").is_file()
    with open_store(settings) as store:
        assert store["customers"].find_one({"_id": "C1"})["first_name"] == "Ana"


def _month_buckets_file_size(data_dir) -> int:
    """The embedded store's file size after holding 300 customer-months of 10 transactions (about 2.3 KB each)."""
    transaction = {"transaction_id": "T0000000001", "customer_id": "C0000001", "account_id": "A00000001",
                   "date": "2025-10-01", "amount": -74.33, "merchant": "ValueWay Warehouse Club",
                   "category": "groceries", "mcc": "5300", "channel": "card_present"}
    with open_store(Settings(data_dir=data_dir, mongodb_uri=None)) as store:
        store["transactions"].insert_many(
            [{"_id": f"C{n:07}:2025-10", "customer_id": f"C{n:07}", "transactions": [transaction] * 10}
             for n in range(300)])
    return (data_dir / "fargo.db").stat().st_size


def test_a_new_embedded_store_keeps_month_buckets_in_less_disk_and_an_old_one_still_opens(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / "fargo.db") as connection:  # a store made before Fargo chose its page size
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("CREATE TABLE made_before (x)")
    old_size = _month_buckets_file_size(old)
    new_size = _month_buckets_file_size(tmp_path / "new")
    assert new_size < 0.85 * old_size
    with open_store(Settings(data_dir=old, mongodb_uri=None)) as store:
        assert store["transactions"].count_documents({}) == 300


def test_unreachable_mongodb_raises_store_unavailable_quickly_without_credentials(tmp_path, unused_port):
    port = unused_port
    settings = Settings(data_dir=tmp_path, mongodb_uri=f"mongodb://fargo:s3cr3t-pw@127.0.0.1:{port}/admin")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        open_store(settings)
    assert time.monotonic() - started < 6
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "s3cr3t-pw" not in message and "fargo:" not in message


def test_malformed_mongodb_uri_raises_store_error_without_credentials(tmp_path):
    settings = Settings(data_dir=tmp_path, mongodb_uri="mongodb://fargo:s3cr3t-pw@[::1/fargo")
    with pytest.raises(StoreError) as raised:
        open_store(settings)
    assert "FARGO_MONGODB_URI" in str(raised.value)
    assert "s3cr3t-pw" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pymongo_errors.DuplicateKeyError("E11000 duplicate key", 11000), DuplicateKeyError),
        (pymongo_errors.BulkWriteError({"writeErrors": [{"code": 11000, "errmsg": "dup"}]}), DuplicateKeyError),
        (neo_errors.BulkWriteError({"writeErrors": [{"code": 11000, "errmsg": "dup"}]}), DuplicateKeyError),
        (pymongo_errors.BulkWriteError({"writeErrors": [{"code": 121, "errmsg": "invalid"}]}), StoreError),
        (sqlite3.IntegrityError("UNIQUE constraint failed: items._id"), DuplicateKeyError),
        (pymongo_errors.ServerSelectionTimeoutError("db1:27017: timed out"), StoreUnavailable),
        (pymongo_errors.AutoReconnect("connection closed"), StoreUnavailable),
        (sqlite3.OperationalError("unable to open database file"), StoreUnavailable),
        (sqlite3.OperationalError("database is locked"), StoreUnavailable),
        (sqlite3.OperationalError("no such column: x"), StoreError),
        (pymongo_errors.OperationFailure("bad query"), StoreError),
        (neo_errors.MalformedQueryException("bad query"), StoreError),
    ],
)
def test_backend_errors_become_the_projects_own(error, expected):
    mapped = map_error(error, "the store")
    assert type(mapped) is expected
    assert str(mapped).startswith("the store")
    with pytest.raises(expected), translate_errors("the store", secrets=("hunter2",)):
        raise error


def test_translated_messages_hide_secrets():
    with pytest.raises(StoreUnavailable) as raised, translate_errors("MongoDB at db1", secrets=("hunter2",)):
        raise pymongo_errors.AutoReconnect("auth as fargo:hunter2 failed")
    assert "hunter2" not in str(raised.value)


def test_unusable_database_file_raises_store_unavailable(tmp_path):
    (tmp_path / "fargo.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreUnavailable, match="fargo.db"):
        open_store(Settings(data_dir=tmp_path, mongodb_uri=None))


def test_data_dir_that_is_a_file_raises_store_unavailable(tmp_path):
    (tmp_path / "taken").write_text("a file, not a directory")
    with pytest.raises(StoreUnavailable):
        open_store(Settings(data_dir=tmp_path / "taken", mongodb_uri=None))


def test_a_closed_store_refuses_work(store_settings):
    with open_store(store_settings) as store:
        pass
    with pytest.raises(StoreUnavailable, match="closed"):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store["items"].find()


def test_store_opened_in_one_thread_serves_others(store):
    store["items"].insert_one({"_id": "main"})
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            store["items"].insert_one({"_id": f"t{n}"})
            store["items"].update_one({"_id": "main"}, {"$inc": {"hits": 1}})
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store["items"].count_documents({}) == 5
    assert store["items"].find_one({"_id": "main"})["hits"] == 4


def test_list_collection_names_shows_collections_with_data_or_indexes(store):
    store["touched_only"].count_documents({})
    store["filled"].insert_one({"_id": 1})
    store["indexed"].create_index("city")
    assert store.list_collection_names() == ["filled", "indexed"]
    store.drop_collection("filled")
    store.drop_collection("never_existed")
    assert store.list_collection_names() == ["indexed"]


# --- indexes -------------------------------------------------------------------------------


def test_ensure_indexes_is_idempotent_and_indexed_lookups_answer(store):
    store.ensure_indexes()
    store.ensure_indexes()
    assert set(INDEXES) <= set(store.list_collection_names())
    store["customers"].insert_many(
        [
            {"_id": "C1", "customer_id": "C1", "last_name": "Lopez", "city": "Denver",
             "social_handles": {"twitter": "@ana_lopez", "instagram": "ana.lopez"}},
            {"_id": "C2", "customer_id": "C2", "last_name": "Kim", "city": "Austin",
             "social_handles": {"twitter": "@jkim"}},
        ]
    )
    assert ids(store["customers"].find(handle_filter("twitter", "@ana_lopez"))) == ["C1"]
    assert ids(store["customers"].find(handle_filter("instagram", "@jkim"))) == []
    assert ids(store["customers"].find({"city": "Austin"})) == ["C2"]
    with pytest.raises(DuplicateKeyError):
        store["customers"].insert_one({"_id": "C3", "customer_id": "C1"})


def test_list_fields_still_match_by_element_after_ensure_indexes(store):
    store.ensure_indexes()
    store["faq"].insert_many([{"_id": "F1", "product_ids": ["P1", "P2"]}, {"_id": "F2", "product_ids": ["P3"]}])
    assert ids(store["faq"].find({"product_ids": "P2"})) == ["F1"]


def _field_annotation(model, path: str):
    annotation = model
    for part in path.split("."):
        if typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            annotation = annotation.model_fields[part].annotation
    return annotation


def test_indexes_name_only_scalar_record_fields():
    """An index on a list-valued field hides array matches on NeoSQLite, so INDEXES must not have one."""
    models = {source.collection: source.model for source in SOURCES}
    for collection, indexes in INDEXES.items():
        if collection not in models:
            continue
        for keys, _options in indexes:
            for path in [keys] if isinstance(keys, str) else [name for name, _ in keys]:
                annotation = _field_annotation(models[collection], path)
                assert typing.get_origin(annotation) not in (list, dict, tuple, set), (collection, path)


# --- reading and writing -------------------------------------------------------------------


def test_documents_round_trip_with_their_types(store):
    document = {
        "_id": "C1", "active": True, "closed": False, "income": 72000.5, "dependants": 2, "note": None,
        "consent": {"marketing": True, "health_data": False}, "tags": ["a", 1, {"deep": True}],
    }
    store["customers"].insert_one(document)
    assert store["customers"].find_one({"_id": "C1"}) == document


def test_booleans_written_by_set_stay_booleans(store):
    customers = store["customers"]
    customers.insert_many([{"_id": "C1", "active": False, "consent": {"marketing": False}}, {"_id": "C2"}])
    customers.update_one({"_id": "C1"}, {"$set": {"active": True, "consent.marketing": True, "visits": 3}})
    customers.update_many({}, {"$set": {"reviewed": True}, "$inc": {"reviews": 1}})
    customers.update_one({"_id": "C3"}, {"$set": {"active": True}, "$setOnInsert": {"new": False}}, upsert=True)
    assert customers.find_one({"_id": "C1"}) == {
        "_id": "C1", "active": True, "consent": {"marketing": True}, "visits": 3, "reviewed": True, "reviews": 1,
    }
    assert customers.find_one({"_id": "C2"}) == {"_id": "C2", "reviewed": True, "reviews": 1}
    assert customers.find_one({"_id": "C3"}) == {"_id": "C3", "active": True, "new": False}
    assert ids(customers.find({"active": True}, sort=[("_id", 1)])) == ["C1", "C3"]


def test_booleans_set_through_bulk_write_stay_booleans(store):
    leads = store["leads"]
    leads.insert_one({"_id": "L1", "handled": False})
    result = leads.bulk_write(
        [
            UpdateOne({"_id": "L1"}, {"$set": {"handled": True}}),
            UpdateOne({"_id": "L2"}, {"$set": {"handled": True}}, upsert=True),
        ]
    )
    assert (result.matched_count, result.modified_count, result.upserted_ids) == (1, 1, {1: "L2"})
    assert leads.find() == [{"_id": "L1", "handled": True}, {"_id": "L2", "handled": True}]


def test_only_real_mongodb_is_trusted_to_keep_booleans():
    assert is_real_mongodb({"version": "7.0.14", "gitVersion": "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188"})
    assert not is_real_mongodb({"version": "7.0.0", "process": "nx_27017"})


def test_booleans_pushed_into_lists_are_refused_on_both_backends(store):
    store["items"].insert_one({"_id": "a", "flags": []})
    with pytest.raises(UnsupportedQuery):
        store["items"].update_one({"_id": "a"}, {"$push": {"flags": True}})
    with pytest.raises(UnsupportedQuery):
        store["items"].update_one({"_id": "a"}, {"$addToSet": {"flags": {"$each": [False]}}})


def test_updates_without_operators_are_refused(store):
    store["items"].insert_one({"_id": "a", "v": 1})
    with pytest.raises(ValueError, match=r"\$ operators"):
        store["items"].update_one({"_id": "a"}, {"v": 2})
    with pytest.raises(UnsupportedQuery):
        store["items"].update_one({"_id": "a"}, [{"$set": {"v": 2}}])
    with pytest.raises(ValueError):
        store["items"].replace_one({"_id": "a"}, {"$set": {"v": 2}})
    assert store["items"].find_one({"_id": "a"}) == {"_id": "a", "v": 1}


def test_duplicate_id_raises_duplicate_key_error(store):
    store["items"].insert_one({"_id": "a"})
    with pytest.raises(DuplicateKeyError):
        store["items"].insert_one({"_id": "a"})
    with pytest.raises(StoreError):
        store["items"].insert_one({"_id": "a"})


def test_duplicate_in_unique_index_raises_duplicate_key_error(store):
    store["items"].create_index("email", unique=True)
    store["items"].insert_one({"_id": "a", "email": "ana@example.com"})
    with pytest.raises(DuplicateKeyError):
        store["items"].insert_one({"_id": "b", "email": "ana@example.com"})


def test_unordered_insert_many_inserts_the_rest_then_raises(store):
    store["items"].insert_one({"_id": "a"})
    with pytest.raises(DuplicateKeyError):
        store["items"].insert_many([{"_id": "b"}, {"_id": "a"}, {"_id": "c"}], ordered=False)
    assert sorted(ids(store["items"].find())) == ["a", "b", "c"]


def test_ordered_insert_many_stops_at_the_first_duplicate(store):
    store["items"].insert_one({"_id": "a"})
    with pytest.raises(DuplicateKeyError):
        store["items"].insert_many([{"_id": "b"}, {"_id": "a"}, {"_id": "c"}])
    assert sorted(ids(store["items"].find())) == ["a", "b"]


def test_insert_many_returns_ids_and_generated_ids_are_bson_objectids(store):
    result = store["items"].insert_many([{"_id": "a"}, {"v": 1}])
    assert result.inserted_ids[0] == "a"
    generated = result.inserted_ids[1]
    assert isinstance(generated, bson.ObjectId)
    assert store["items"].find_one({"_id": generated}) == {"_id": generated, "v": 1}
    single = store["items"].insert_one({"v": 2}).inserted_id
    assert isinstance(single, bson.ObjectId)
    assert isinstance(store["items"].find_one({"v": 2})["_id"], bson.ObjectId)
    assert store["items"].insert_many([]).inserted_ids == []


def test_bulk_write_duplicate_raises_duplicate_key_error(store):
    store["items"].insert_one({"_id": "a"})
    with pytest.raises(DuplicateKeyError):
        store["items"].bulk_write([InsertOne({"_id": "a"}), InsertOne({"_id": "b"})])
    assert sorted(ids(store["items"].find())) == ["a", "b"]


def test_bulk_write_with_booleans_goes_on_past_a_duplicate_then_raises(store):
    store["leads"].insert_one({"_id": "L1", "handled": False})
    with pytest.raises(DuplicateKeyError):
        store["leads"].bulk_write([InsertOne({"_id": "L1"}), UpdateOne({"_id": "L1"}, {"$set": {"handled": True}})])
    assert store["leads"].find() == [{"_id": "L1", "handled": True}]
    with pytest.raises(DuplicateKeyError):
        store["leads"].bulk_write(
            [InsertOne({"_id": "L1"}), UpdateOne({"_id": "L1"}, {"$set": {"handled": False}})], ordered=True
        )
    assert store["leads"].find() == [{"_id": "L1", "handled": True}]


def test_replace_one_upsert_keeps_the_filters_id(store):
    result = store["items"].replace_one({"_id": "C1"}, {"name": "Ana"}, upsert=True)
    assert result.upserted_id == "C1"
    assert store["items"].find() == [{"_id": "C1", "name": "Ana"}]
    again = store["items"].replace_one({"_id": "C1"}, {"name": "Ana Lopez", "vip": True}, upsert=True)
    assert (again.matched_count, again.modified_count, again.upserted_id) == (1, 1, None)
    assert store["items"].find() == [{"_id": "C1", "name": "Ana Lopez", "vip": True}]


def test_bulk_replace_upserts_keep_the_filters_id(store):
    result = store["items"].bulk_write(
        [ReplaceOne({"_id": "a"}, {"v": 1}, upsert=True), ReplaceOne({"_id": "b"}, {"_id": "b", "v": 2}, upsert=True)]
    )
    assert result.upserted_ids == {0: "a", 1: "b"}
    assert store["items"].find(sort="_id") == [{"_id": "a", "v": 1}, {"_id": "b", "v": 2}]


def test_update_upsert_sets_on_insert_only_once(store):
    first = store["items"].update_one(
        {"_id": "C1"}, {"$set": {"seen": 1}, "$setOnInsert": {"created": "2026-01-01"}}, upsert=True
    )
    second = store["items"].update_one(
        {"_id": "C1"}, {"$set": {"seen": 2}, "$setOnInsert": {"created": "2027-01-01"}}, upsert=True
    )
    assert (first.matched_count, first.upserted_id) == (0, "C1")
    assert (second.matched_count, second.modified_count, second.upserted_id) == (1, 1, None)
    assert store["items"].find() == [{"_id": "C1", "seen": 2, "created": "2026-01-01"}]


def test_inc_adds_and_creates_counters(store):
    store["items"].insert_one({"_id": "a", "n": 1, "stats": {"hits": 1}})
    store["items"].update_one({"_id": "a"}, {"$inc": {"n": 2, "stats.hits": 1, "amount": 1.5}})
    store["items"].update_one({"_id": "b"}, {"$inc": {"n": 1}}, upsert=True)
    assert store["items"].find(sort="_id") == [
        {"_id": "a", "n": 3, "stats": {"hits": 2}, "amount": 1.5},
        {"_id": "b", "n": 1},
    ]


def test_update_results_count_matches_and_changes(store):
    seed(store)
    result = store["items"].update_many({"group": "even"}, {"$set": {"v": 3}})
    assert (result.matched_count, result.modified_count, result.upserted_id) == (3, 2, None)  # i0 had 3 already
    assert store["items"].update_one({"_id": "missing"}, {"$set": {"v": 1}}).matched_count == 0


def test_delete_reports_how_many_went(store):
    seed(store)
    assert store["items"].delete_one({"group": "odd"}).deleted_count == 1
    assert store["items"].delete_many({"group": "even"}).deleted_count == 3
    assert store["items"].delete_many({"group": "even"}).deleted_count == 0
    assert store["items"].delete_one({"_id": "missing"}).deleted_count == 0
    assert store["items"].count_documents() == 1


def test_bulk_write_reports_every_count(store):
    store["items"].insert_many([{"_id": "a", "v": 1}, {"_id": "b", "v": 2}, {"_id": "c", "v": 3}])
    result = store["items"].bulk_write(
        [
            UpdateOne({"_id": "a"}, {"$set": {"v": 10}}),
            UpdateOne({"_id": "b"}, {"$set": {"v": 2}}),
            UpdateMany({"v": {"$gte": 3}}, {"$inc": {"v": 1}}),
            ReplaceOne({"_id": "d"}, {"v": 4}, upsert=True),
            InsertOne({"_id": "e"}),
            DeleteOne({"_id": "b"}),
            UpdateOne({"_id": "f"}, {"$set": {"v": 6}}, upsert=True),
        ]
    )
    assert result.inserted_count == 1
    assert result.matched_count == 4  # a, b, then a and c for $gte
    assert result.modified_count == 3
    assert result.deleted_count == 1
    assert (result.upserted_count, result.upserted_ids) == (2, {3: "d", 6: "f"})
    assert store["items"].bulk_write([]).inserted_count == 0



def test_bulk_replacements_by_id_replace_upsert_and_reindex(store):
    customers = store["customers"]
    customers.create_index("city")
    customers.insert_many([{"_id": "C1", "city": "Denver"}, {"_id": "C2", "city": "Denver"}])
    result = customers.bulk_write(
        [
            ReplaceOne({"_id": "C1"}, {"city": "Boston", "since": date(2020, 5, 1)}, upsert=True),
            ReplaceOne({"_id": "C3"}, {"city": "Austin"}, upsert=True),
            ReplaceOne({"_id": "C4"}, {"city": "Reno"}),
        ],
        ordered=False,
    )
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert (result.upserted_count, result.upserted_ids) == (1, {1: "C3"})
    assert customers.find_one({"_id": "C1"}) == {"_id": "C1", "city": "Boston", "since": "2020-05-01"}
    assert ids(customers.find({"city": "Denver"})) == ["C2"]
    assert ids(customers.find({"city": "Boston"})) == ["C1"]
    assert ids(customers.find({"city": "Austin"})) == ["C3"]
    assert customers.find_one({"_id": "C4"}) is None


def test_a_batch_of_inserts_reads_back_in_stored_form_and_by_index(store):
    buckets = store["transactions"]
    buckets.create_index("customer_id")
    documents = [
        {"_id": f"C{n}:2026-03", "customer_id": f"C{n}", "opened": date(2026, 3, 1),
         "at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "lines": [{"amount": -1.5, "ok": True}], "tags": ("a", "b")}
        for n in range(3)
    ]
    assert buckets.insert_many(documents, ordered=False).inserted_ids == ["C0:2026-03", "C1:2026-03", "C2:2026-03"]
    assert buckets.find({"customer_id": "C1"}) == [{
        "_id": "C1:2026-03", "customer_id": "C1", "opened": "2026-03-01", "at": "2026-03-02T09:30:00.000000Z",
        "lines": [{"amount": -1.5, "ok": True}], "tags": ["a", "b"],
    }]
    assert buckets.count_documents({"at": {"$gte": datetime(2026, 3, 2, tzinfo=UTC)}}) == 3


def test_find_by_a_list_of_ids_reads_every_kind_of_value(store):
    reference = bson.ObjectId()
    store["items"].insert_many([
        {"_id": "a", "ok": True, "n": 2, "x": -0.25, "tags": ["p", {"q": None}]},
        {"_id": "b", "ok": False, "owner": reference},
        {"_id": "c"},
    ])
    found = store["items"].find({"_id": {"$in": ["a", "c", "zzz"]}})
    assert sorted(found, key=lambda document: document["_id"]) == [
        {"_id": "a", "ok": True, "n": 2, "x": -0.25, "tags": ["p", {"q": None}]}, {"_id": "c"}]
    assert store["items"].find({"_id": {"$in": ["b"]}}) == [{"_id": "b", "ok": False, "owner": reference}]
    assert store["items"].find({"_id": {"$in": ["a"]}}, {"ok": 1, "_id": 0}) == [{"ok": True}]
    assert store["items"].find({"_id": {"$in": []}}) == []
    assert sorted(ids(store["items"].find({}, {"_id": 1}))) == ["a", "b", "c"]
    store["items"].insert_one({"n": 3})  # an ObjectId _id: every _id is then read by NeoSQLite itself
    assert sum(isinstance(key, bson.ObjectId) for key in ids(store["items"].find({}, {"_id": 1}))) == 1

# --- dates ---------------------------------------------------------------------------------


def test_dates_and_datetimes_are_stored_as_iso_strings(store):
    opened = date(2021, 6, 1)
    posted = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    store["items"].insert_one({"_id": "a", "opened_at": opened, "posted_at": posted, "history": [date(2020, 1, 2)]})
    store["items"].update_one({"_id": "a"}, {"$set": {"closed_at": date(2024, 12, 31)}})
    assert store["items"].find_one({"_id": "a"}) == {
        "_id": "a",
        "opened_at": "2021-06-01",
        "posted_at": "2026-03-01T14:30:00.000000Z",
        "history": ["2020-01-02"],
        "closed_at": "2024-12-31",
    }


def test_date_filters_compare_with_stored_dates(store):
    runs = store["job_runs"]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    runs.insert_many([{"_id": f"r{n}", "started_at": start + timedelta(hours=n)} for n in range(4)])
    runs.insert_one({"_id": "naive", "started_at": datetime(2026, 3, 1, 1, 30)})  # naive means UTC
    latest = runs.find({}, sort=[("started_at", -1)], limit=2)
    assert ids(latest) == ["r3", "r2"]
    assert ids(runs.find({"started_at": {"$gt": start + timedelta(hours=1)}}, sort="started_at")) == [
        "naive", "r2", "r3",
    ]
    store["accounts"].insert_many([{"_id": "A1", "opened_at": "2021-06-01"}, {"_id": "A2", "opened_at": "2019-01-01"}])
    assert ids(store["accounts"].find({"opened_at": {"$gte": date(2020, 1, 1)}})) == ["A1"]
    assert ids(store["accounts"].find({"opened_at": date(2019, 1, 1)})) == ["A2"]


def test_timestamps_within_one_second_compare_to_the_microsecond(store):
    sessions = store["sessions"]
    sessions.insert_many([{"_id": "early", "created_at": "2026-12-03T09:47:09.112000+00:00"},
                          {"_id": "late", "created_at": "2026-12-03T09:47:09.900000+00:00"}])
    assert ids(sessions.find({"created_at": {"$lt": "2026-12-03T09:47:09.500000+00:00"}})) == ["early"]
    assert ids(sessions.find({"created_at": {"$gte": "2026-12-03T09:47:09.500000+00:00"}})) == ["late"]
    assert sessions.find_one({"created_at": "2026-12-03T09:47:09+00:00"}) is None


# --- queries -------------------------------------------------------------------------------


def test_in_on_id_finds_the_listed_documents(store):
    seed(store)
    assert sorted(ids(store["items"].find({"_id": {"$in": ["i1", "i3", "nope"]}}))) == ["i1", "i3"]


def test_sort_limit_and_skip(store):
    seed(store)
    assert ids(store["items"].find({}, sort=[("v", -1)], limit=2, skip=1)) == ["i4", "i0"]
    assert ids(store["items"].find(sort={"group": 1, "v": -1})) == ["i2", "i4", "i0", "i3", "i1"]
    assert store["items"].find_one({}, sort=[("v", 1)])["_id"] == "i1"
    assert store["items"].find_one({}, sort=("v", -1))["_id"] == "i2"


def test_find_returns_a_list_and_find_one_none_when_nothing_matches(store):
    seed(store)
    found = store["items"].find({"group": "odd"})
    assert isinstance(found, list) and len(found) == 2
    assert store["items"].find({"group": "none"}) == []
    assert store["items"].find_one({"_id": "missing"}) is None


def test_find_batches_hands_out_what_find_finds_a_batch_at_a_time(store):
    items = seed(store, count=23)
    store["items"].insert_one({"_id": "when", "group": "odd", "v": 9, "at": datetime(2026, 5, 1, tzinfo=UTC),
                               "n": {"p": 1, "q": 2}})
    items.insert_one({"group": "odd", "v": 7})  # a generated ObjectId
    for query in ({}, {"group": "odd"}, {"v": 3}, {"group": "odd", "v": {"$gt": 2}}, {"group": "none"}):
        batches = list(items.find_batches(query, {"v": 1, "n.p": 1}, batch_size=4))
        assert all(0 < len(batch) <= 4 for batch in batches)
        found = [document for batch in batches for document in batch]
        assert sorted(found, key=lambda doc: str(doc["_id"])) == sorted(items.find(query, {"v": 1, "n.p": 1}),
                                                                       key=lambda doc: str(doc["_id"]))
    assert next(items.find_batches({"_id": "when"}))[0]["at"] == items.find_one({"_id": "when"})["at"]


def test_projections_include_and_exclude_top_level_fields(store):
    store["items"].insert_one({"_id": "a", "x": 1, "y": 2, "n": {"p": 1, "q": 2}})
    assert store["items"].find_one({}, {"x": 1}) == {"_id": "a", "x": 1}
    assert store["items"].find_one({}, {"y": 0, "n": 0}) == {"_id": "a", "x": 1}
    assert store["items"].find_one({}, ["x", "y"]) == {"_id": "a", "x": 1, "y": 2}
    assert store["items"].find_one({}, {"_id": 0, "x": 1}) == {"x": 1}


def test_projections_with_dotted_paths_nest_like_mongodb(store):
    store["items"].insert_one(
        {"_id": "a", "x": 1, "n": {"p": 1, "q": 2}, "txs": [{"cat": "food", "amt": -5}, {"cat": "fuel", "amt": -9}]}
    )
    assert store["items"].find_one({}, {"_id": 0, "n.p": 1}) == {"n": {"p": 1}}
    assert store["items"].find_one({}, {"n.q": 0, "txs.amt": 0}) == {
        "_id": "a", "x": 1, "n": {"p": 1}, "txs": [{"cat": "food"}, {"cat": "fuel"}],
    }
    assert store["items"].find_one({}, {"txs.cat": 1, "x": 1}) == {
        "_id": "a", "x": 1, "txs": [{"cat": "food"}, {"cat": "fuel"}],
    }


def test_count_documents_with_a_filter(store):
    seed(store)
    assert store["items"].count_documents({"v": {"$gte": 3}}) == 3
    assert store["items"].count_documents({}) == 5


def test_distinct_values_come_sorted_and_lists_count_by_element(store):
    store["items"].insert_many(
        [
            {"_id": 1, "city": "Denver", "tags": ["b", "a"]},
            {"_id": 2, "city": "Austin", "tags": ["b"]},
            {"_id": 3, "city": "Denver"},
        ]
    )
    assert store["items"].distinct("city") == ["Austin", "Denver"]
    assert store["items"].distinct("tags") == ["a", "b"]
    assert store["items"].distinct("city", {"_id": {"$gt": 1}}) == ["Austin", "Denver"]


def test_subdocument_equality_matches_its_fields(store):
    store["customers"].insert_many(
        [
            {"_id": "C1", "social_handles": {"twitter": "@a", "instagram": "b"}, "consent": {"marketing": True}},
            {"_id": "C2", "social_handles": {"twitter": "@c"}, "consent": {"marketing": False}},
        ]
    )
    assert ids(store["customers"].find({"social_handles": {"twitter": "@c"}})) == ["C2"]
    assert ids(store["customers"].find({"consent": {"marketing": True}})) == ["C1"]
    assert store["customers"].count_documents({"social_handles": {"instagram": "b", "twitter": "@a"}}) == 1
    with pytest.raises(UnsupportedQuery):
        store["customers"].find({"social_handles": {}})
    with pytest.raises(UnsupportedQuery):
        store["customers"].find({"tags": ["a", "b"]})


def test_exists_treats_a_null_field_as_missing(store):
    store["items"].insert_many([{"_id": 1, "k": None}, {"_id": 2, "k": 1}, {"_id": 3}, {"_id": 4, "k": 7}])
    assert ids(store["items"].find({"k": {"$exists": True}}, sort="_id")) == [2, 4]
    assert ids(store["items"].find({"k": {"$exists": False}}, sort="_id")) == [1, 3]
    assert ids(store["items"].find({"k": {"$exists": True, "$ne": 7}})) == [2]
    assert ids(store["items"].find({"k": {"$ne": None}}, sort="_id")) == [2, 4]
    assert ids(store["items"].find({"k": None}, sort="_id")) == [1, 3]


def test_array_membership_and_boolean_logic(store):
    store["items"].insert_many(
        [{"_id": 1, "tags": ["a", "b"], "v": 1}, {"_id": 2, "tags": ["c"], "v": 2}, {"_id": 3, "v": 3}]
    )
    assert ids(store["items"].find({"tags": "b"})) == [1]
    assert ids(store["items"].find({"tags": {"$in": ["c", "z"]}})) == [2]
    assert ids(store["items"].find({"$or": [{"tags": "a"}, {"v": {"$gt": 2}}]}, sort="_id")) == [1, 3]
    assert ids(store["items"].find({"v": {"$nin": [1, 2]}})) == [3]


# --- aggregation ---------------------------------------------------------------------------


def _transaction_buckets(store):
    store["transactions"].insert_many(
        [
            {"_id": "C1:2026-03", "customer_id": "C1", "month": "2026-03", "transactions": [
                {"transaction_id": "T1", "category": "travel", "amount": -300.0},
                {"transaction_id": "T2", "category": "groceries", "amount": -80.0}]},
            {"_id": "C1:2026-04", "customer_id": "C1", "month": "2026-04", "transactions": [
                {"transaction_id": "T3", "category": "travel", "amount": -340.0},
                {"transaction_id": "T4", "category": "dining", "amount": -20.0}]},
            {"_id": "C2:2026-03", "customer_id": "C2", "month": "2026-03", "transactions": [
                {"transaction_id": "T5", "category": "travel", "amount": -5.0}]},
        ]
    )


def test_aggregate_spending_by_category(store):
    _transaction_buckets(store)
    pipeline = [
        {"$match": {"customer_id": "C1"}},
        {"$unwind": "$transactions"},
        {"$match": {"transactions.amount": {"$lt": -50}}},
        {"$group": {"_id": "$transactions.category", "total": {"$sum": "$transactions.amount"}, "n": {"$sum": 1}}},
        {"$sort": {"total": 1}},
        {"$limit": 5},
        {"$project": {"_id": 0, "category": "$_id", "total": 1, "n": 1}},
    ]
    assert store["transactions"].aggregate(pipeline) == [
        {"category": "travel", "total": -640.0, "n": 2},
        {"category": "groceries", "total": -80.0, "n": 1},
    ]


def test_aggregate_group_accumulators_skip_and_count(store):
    seed(store)
    grouped = store["items"].aggregate(
        [
            {"$group": {"_id": "$group", "avg": {"$avg": "$v"}, "top": {"$max": "$v"}, "low": {"$min": "$v"},
                        "members": {"$push": "$_id"}, "n": {"$count": {}}}},
            {"$sort": {"_id": 1}},
        ]
    )
    assert grouped == [
        {"_id": "even", "avg": 4.0, "top": 5, "low": 3, "members": ["i0", "i2", "i4"], "n": 3},
        {"_id": "odd", "avg": 1.5, "top": 2, "low": 1, "members": ["i1", "i3"], "n": 2},
    ]
    assert store["items"].aggregate([{"$sort": {"v": 1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"v": 1}}]) == [
        {"_id": "i3", "v": 2},
        {"_id": "i0", "v": 3},
    ]
    assert store["items"].aggregate([{"$match": {"group": "odd"}}, {"$count": "n"}]) == [{"n": 2}]
    assert store["items"].aggregate([{"$group": {"_id": None, "total": {"$sum": "$v"}}}]) == [
        {"_id": None, "total": 15}
    ]


def test_aggregate_unwind_keeps_empty_lists_when_asked(store):
    store["items"].insert_many([{"_id": "a", "l": [1, 2]}, {"_id": "b", "l": []}])
    unwound = store["items"].aggregate(
        [{"$unwind": {"path": "$l", "preserveNullAndEmptyArrays": True}}, {"$project": {"l": 1}}]
    )
    assert unwound == [{"_id": "a", "l": 1}, {"_id": "a", "l": 2}, {"_id": "b"}]


@pytest.mark.parametrize(
    "pipeline",
    [
        [{"$lookup": {"from": "other", "localField": "a", "foreignField": "b", "as": "c"}}],
        [{"$group": {"_id": {"a": "$a", "b": "$b"}, "n": {"$sum": 1}}}],
        [{"$group": {"_id": "$a", "n": {"$stdDevPop": "$v"}}}],
        [{"$project": {"n.a": 1}}],
        [{"$project": {"_id": 1}}],
    ],
    ids=["lookup", "compound-group-key", "unknown-accumulator", "dotted-project", "id-only-project"],
)
def test_aggregate_refuses_what_the_backends_answer_differently(store, pipeline):
    seed(store)
    with pytest.raises(UnsupportedQuery):
        store["items"].aggregate(pipeline)


# --- pure helpers --------------------------------------------------------------------------


def test_normalise_filter_flattens_subdocuments_and_stores_dates():
    assert normalise_filter({"h": {"tw": "@a", "n": {"x": 1}}, "d": {"$gte": date(2024, 1, 2)}}) == {
        "h.tw": "@a",
        "h.n.x": 1,
        "d": {"$gte": "2024-01-02"},
    }
    assert normalise_filter({"h.tw": "@a", "h": {"tw": "@b"}}) == {"$and": [{"h.tw": "@a"}, {"h.tw": "@b"}]}


def test_apply_projection_handles_missing_paths():
    assert apply_projection({"_id": 1, "a": {"b": 1}}, {"a.c": 1, "z.y": 1}) == {"_id": 1, "a": {}}
    assert apply_projection({"_id": 1, "a": 5}, {"a.b": 0}) == {"_id": 1, "a": 5}


def test_in_on_an_indexed_field_returns_each_match_once(store):
    accounts = store["accounts"]
    accounts.insert_many([{"_id": f"A{i}", "customer_id": f"C{i % 3}", "balance": i} for i in range(9)])

    found = accounts.find({"customer_id": {"$in": ["C1", "C2", "C1", "C9"]}})

    assert sorted(doc["_id"] for doc in found) == ["A1", "A2", "A4", "A5", "A7", "A8"]


def test_nested_values_are_stored_as_plain_json_kinds_at_any_depth(store):
    class Kind(str):
        pass

    document = {"_id": "nested", "turns": [{"at": 1.5, "flag": True, "none": None, "kind": Kind("card"),
                                             "day": date(2026, 9, 30), "pair": (1, (2, date(2026, 1, 2))),
                                             "deeper": [{"when": datetime(2026, 9, 30, 12, tzinfo=UTC)}]}]}
    store["nested"].insert_one(document)
    turn = store["nested"].find_one({"_id": "nested"})["turns"][0]
    assert turn == {"at": 1.5, "flag": True, "none": None, "kind": "card", "day": "2026-09-30",
                    "pair": [1, [2, "2026-01-02"]], "deeper": [{"when": "2026-09-30T12:00:00.000000Z"}]}
    assert turn["flag"] is True
