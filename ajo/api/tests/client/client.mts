// A frontend's client of the ajo API, as the README shows: types generated from the live
// schema with openapi-typescript (ajo-api.d.ts, written by the test), calls through
// openapi-fetch. The test type-checks it (tsc, strict) and runs it against a live server with
// synced data: a schema change that would break a frontend fails there.
//
//   node out/client.mjs http://127.0.0.1:8000
import createClient from "openapi-fetch";
import type { components, paths } from "./ajo-api.js";

// Node's own global, declared here rather than pulling in @types/node for one line.
declare const process: { argv: string[] };

type Group = components["schemas"]["Group"];
type Contribution = components["schemas"]["Contribution"];

const baseUrl = process.argv[2];
if (!baseUrl) throw new Error("usage: node client.mjs BASE_URL");

// `ordering` is a comma-separated list in the schema (style form, explode false).
const api = createClient<paths>({
  baseUrl,
  querySerializer: { array: { style: "form", explode: false } },
});

const called = new Set<string>();
function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
function indexedBlock(response: Response): number {
  const header = response.headers.get("X-Indexed-Block");
  check(header !== null && /^-?[0-9]+$/.test(header), `X-Indexed-Block is ${header}`);
  return Number(header);
}
const UINT = /^[0-9]+$/;

// Groups: a list filtered by status and ordered by two keys, then one group's screen.
const groups = await api.GET("/api/groups/", {
  params: { query: { ordering: ["-member_count", "id"], page_size: 100 } },
});
called.add("/api/groups/");
check(groups.data, `groups: ${JSON.stringify(groups.error)}`);
const all: Group[] = groups.data.results;
check(all.length > 0 && groups.data.count === all.length, "groups: none listed");
for (const group of all) {
  const frequency: string = group.frequency; // a uint64: a string, never a lossy number
  check(UINT.test(frequency) && UINT.test(group.contribution_amount), "amounts as strings");
}
const active = await api.GET("/api/groups/", { params: { query: { status: "active" } } });
check(active.data && active.data.results.every((g) => g.status === "active"), "status filter");

const first = all[0];
check(first, "a group");
const detail = await api.GET("/api/groups/{group_id}/", {
  params: { path: { group_id: first.id } },
});
called.add("/api/groups/{group_id}/");
check(detail.data && detail.data.id === first.id, "group detail");
check(detail.data.rotation.length === detail.data.member_count, "rotation holds every member");
const etag = detail.response.headers.get("ETag");
check(etag, "an ETag");
// Revalidation: the same answer is a 304 without a body while the index stays.
const again = await api.GET("/api/groups/{group_id}/", {
  params: { path: { group_id: first.id }, header: { "If-None-Match": etag } },
});
check(again.response.status === 304, `If-None-Match gave ${again.response.status}`);

const members = await api.GET("/api/groups/{group_id}/members/", {
  params: { path: { group_id: first.id }, query: { page: 1 } },
});
called.add("/api/groups/{group_id}/members/");
check(members.data && members.data.results.length === first.member_count, "members");

const groupContributions = await api.GET("/api/groups/{group_id}/contributions/", {
  params: { path: { group_id: first.id }, query: { round: 1 } },
});
called.add("/api/groups/{group_id}/contributions/");
check(groupContributions.data, "group contributions");
check(groupContributions.data.results.every((c) => c.round === 1), "round filter");

const groupPayouts = await api.GET("/api/groups/{group_id}/payouts/", {
  params: { path: { group_id: first.id } },
});
called.add("/api/groups/{group_id}/payouts/");
check(groupPayouts.data, "group payouts");

// Events: late payments (a boolean filter, sent as one), then oldest first with a cursor.
const late = await api.GET("/api/contributions/", { params: { query: { late: true } } });
called.add("/api/contributions/");
check(late.data && late.data.results.length > 0, "some late contributions");
check(late.data.results.every((c) => c.is_late === true), "late filter");
const oldest = await api.GET("/api/contributions/", {
  params: { query: { ordering: "block_number", page_size: 2 } },
});
check(oldest.data && oldest.data.next, "a next page");
const cursor = new URL(oldest.data.next).searchParams.get("cursor");
check(cursor, "a cursor");
const second = await api.GET("/api/contributions/", {
  params: { query: { ordering: "block_number", page_size: 2, cursor } },
});
check(second.data && second.data.results.length > 0, "the second page");

const payouts = await api.GET("/api/payouts/", { params: { query: { group: first.id } } });
called.add("/api/payouts/");
check(payouts.data, "payouts");

// A wallet: its totals, groups and payments.
const someone: Contribution | undefined = late.data.results[0];
check(someone, "a contribution");
const address = someone.member;
const user = await api.GET("/api/users/{address}/", { params: { path: { address } } });
called.add("/api/users/{address}/");
check(user.data && UINT.test(user.data.total_contributed), "user totals");
const userGroups = await api.GET("/api/users/{address}/groups/", {
  params: { path: { address } },
});
called.add("/api/users/{address}/groups/");
check(userGroups.data && userGroups.data.results.length > 0, "user groups");
const userContributions = await api.GET("/api/users/{address}/contributions/", {
  params: { path: { address: address.toLowerCase() }, query: { page_size: 5 } },
});
called.add("/api/users/{address}/contributions/");
check(userContributions.data && userContributions.data.results.length > 0, "user payments");

// Read your writes: ingest a transaction, then read with min_block = the block it names.
const ingested = await api.POST("/api/transactions/", { body: { tx_hash: someone.tx_hash } });
called.add("/api/transactions/");
check(ingested.data, `ingest: ${JSON.stringify(ingested.error)}`);
check(ingested.data.block_number === someone.block_number, "the transaction's block");
check(indexedBlock(ingested.response) >= ingested.data.block_number, "indexed at least that far");
const after = await api.GET("/api/contributions/", {
  params: { query: { member: address, min_block: ingested.data.block_number } },
});
check(after.data && after.data.results.some((c) => c.tx_hash === someone.tx_hash), "RYW");

// Not there yet: a block far ahead is a 409 with the indexed block, typed as an error.
const ahead = await api.GET("/api/sync/", { params: { query: { min_block: 2 ** 40 } } });
called.add("/api/sync/");
check(ahead.response.status === 409 && ahead.error, "min_block ahead of the index");
check(ahead.error.error.code === "index_behind", ahead.error.error.code);
const sync = await api.GET("/api/sync/");
check(sync.data && sync.data.indexed_block === indexedBlock(sync.response), "sync status");
const chainId: string | null = sync.data.chain_id;
check(chainId !== null && UINT.test(chainId), "chain id as a string");

// Bad input is a typed error with a message that names the parameter.
const bad = await api.GET("/api/groups/", { params: { query: { page_size: 101 } } });
check(bad.response.status === 400 && bad.error?.error.message.startsWith("page_size"), "400");

const paths_in_schema = 12;
check(called.size === paths_in_schema, `called ${called.size} of ${paths_in_schema} paths`);
console.log(`ok: ${called.size} endpoints, indexed block ${indexedBlock(sync.response)}`);
