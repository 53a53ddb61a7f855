"""A cache backend that records every call and holds nothing: a test that uses it proves a
request did not touch the response cache."""

from django.core.cache.backends.dummy import DummyCache

calls: list[str] = []


class Recording(DummyCache):
    def get(self, key, default=None, version=None):
        calls.append(f"get {key}")
        return default

    def set(self, key, value, timeout=None, version=None):
        calls.append(f"set {key}")
