-- Bulk-loads the synthetic tenant of bench/LumoAuth.Authorization.Benchmarks/TenantGraph.cs (1,121,005 tuples:
-- 100k users, 10k groups of 20, a 100 → 1,000 → 10,000 folder tree, 300k documents with a parent, a direct
-- viewer and a viewing group, a power user over 10,000 documents, a group nested three deep) into the
-- authorization service's tables for tenant :'tenant', exactly as the batch write API would have left them:
-- revisions of at most 100 tuples (the API's batch limit), a 'write' changelog row per tuple in the notation
-- replicas parse, and the tenant's revision moved to the last one, all in one transaction under the
-- revision row lock the service's writers take. The RelationshipsWritten events are not published: no
-- consumer of them matters to a check benchmark.
\set ON_ERROR_STOP 1
BEGIN;
INSERT INTO tenant_revisions ("TenantId", "Revision") VALUES (:'tenant', 0) ON CONFLICT ("TenantId") DO NOTHING;
SELECT "Revision" FROM tenant_revisions WHERE "TenantId" = :'tenant' FOR UPDATE \gset base_
CREATE TEMP TABLE bench_tuples (n bigserial, ot text, oid text, rel text, st text, sid text, srel text) ON COMMIT DROP;

INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel)
SELECT 'group', 'g' || g, 'member', 'user', 'u' || ((g * 20 + m) % 100000), ''
FROM generate_series(0, 9999) g, generate_series(0, 19) m ORDER BY g, m;

INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel)
SELECT 'folder', 'f2_' || f, 'parent', 'folder', 'f1_' || (f / 10), '' FROM generate_series(0, 999) f;

INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel)
SELECT 'folder', 'f3_' || f, 'parent', 'folder', 'f2_' || (f / 10), '' FROM generate_series(0, 9999) f;

-- Ordinary documents sit in level-3 folders 100 and up, outside the power user's subtree.
INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel)
SELECT 'document', 'd' || d, x.rel, x.st, x.sid, x.srel
FROM generate_series(0, 299999) d
CROSS JOIN LATERAL (VALUES
  ('parent', 'folder', 'f3_' || (100 + d % 9900), ''),
  ('viewer', 'user', 'u' || (d % 100000), ''),
  ('viewer', 'group', 'g' || (d % 10000), 'member')) AS x(rel, st, sid, srel)
ORDER BY d;

-- The power user's 10,000 documents: 100 in each level-3 folder 0..99, all under root folder f1_0.
INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel)
SELECT 'document', 'p' || p, 'parent', 'folder', 'f3_' || (p / 100), '' FROM generate_series(0, 9999) p;

INSERT INTO bench_tuples (ot, oid, rel, st, sid, srel) VALUES
  ('folder', 'f1_0', 'viewer', 'user', 'power', ''),
  ('document', 'd777', 'viewer', 'group', 'outer', 'member'),
  ('group', 'outer', 'member', 'group', 'middle', 'member'),
  ('group', 'middle', 'member', 'group', 'inner', 'member'),
  ('group', 'inner', 'member', 'user', 'nested', '');

INSERT INTO tuples ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation",
                    "ConditionName", "ConditionContext", "CreatedRevision", "CreatedAt")
SELECT :'tenant', ot, oid, rel, st, sid, srel, '', NULL, :base_Revision + 1 + (n - 1) / 100, now() FROM bench_tuples;

INSERT INTO tuple_changes ("TenantId", "Revision", "Operation", "Tuple", "ConditionName", "ConditionContext", "Timestamp")
SELECT :'tenant', :base_Revision + 1 + (n - 1) / 100, 'write',
       ot || ':' || oid || '#' || rel || '@' || st || ':' || sid || CASE WHEN srel <> '' THEN '#' || srel ELSE '' END,
       '', NULL, now()
FROM bench_tuples ORDER BY n;

UPDATE tenant_revisions SET "Revision" = :base_Revision + 1 + (SELECT (max(n) - 1) / 100 FROM bench_tuples)
WHERE "TenantId" = :'tenant';
COMMIT;
ANALYZE tuples;
ANALYZE tuple_changes;
SELECT count(*) AS tuples FROM tuples WHERE "TenantId" = :'tenant';
