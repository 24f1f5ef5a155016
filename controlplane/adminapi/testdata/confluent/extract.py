#!/usr/bin/env python3
"""Cut the cluster-linking part out of Confluent's published REST v3 OpenAPI documents.

usage: extract.py CLOUD_OPENAPI CP_OPENAPI OUT_DIR

Keeps every path under /clusters/{cluster_id}/links (Cloud document) and /clusters, /clusters/{cluster_id} (Confluent
Platform document), with every component they reference, transitively, and nothing else. Paths of the Confluent
Platform document (relative to its /kafka/v3 server) are written with the /kafka/v3 prefix, as the Cloud document
writes them.
"""
import sys

import yaml


def refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref' and isinstance(v, str) and v.startswith('#/components/'):
                out.add(tuple(v[len('#/components/'):].split('/', 1)))
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def cut(doc, keep_path, prefix=''):
    paths = {prefix + p: v for p, v in doc['paths'].items() if keep_path(p)}
    comps, todo = {}, set()
    refs(paths, todo)
    while todo:
        kind, name = todo.pop()
        if name in comps.setdefault(kind, {}):
            continue
        comps[kind][name] = doc['components'][kind][name]
        refs(comps[kind][name], todo)
    out = {'openapi': doc['openapi'], 'info': doc['info'], 'paths': paths,
           'components': {k: dict(sorted(v.items())) for k, v in sorted(comps.items())}}
    if 'components' in doc and 'securitySchemes' in doc['components']:
        out['components']['securitySchemes'] = doc['components']['securitySchemes']
    return out


def main():
    cloud, cp, out = sys.argv[1:4]
    with open(cloud) as f:
        c = yaml.safe_load(f)
    with open(out + '/cluster-linking.yaml', 'w') as f:
        yaml.safe_dump(cut(c, lambda p: '/links' in p), f, sort_keys=False, width=120)
    with open(cp) as f:
        p = yaml.safe_load(f)
    with open(out + '/clusters.yaml', 'w') as f:
        yaml.safe_dump(cut(p, lambda x: x in ('/clusters', '/clusters/{cluster_id}'), '/kafka/v3'), f, sort_keys=False,
                       width=120)


if __name__ == '__main__':
    main()
