#!/usr/bin/env python3
"""Import circles between the modules of each crate (issue 9): builds the graph of
`crate::module` and `super::module` references of every non-test module and fails when a
strongly connected component has more than one module. A parent module and its own children
(mod.rs re-exporting a child, a child using its parent) are not counted as a circle.

Usage: .ci/import-circles.py CRATE_DIR...   (e.g. crates/dasvdd-core xtask)
"""
bad = False
import os, re, sys
# module-level import graph per crate: edges file-module -> module referenced via crate::X / super::X
def modname(root, path):
    rel=os.path.relpath(path, root)[:-3]
    parts=rel.split(os.sep)
    if parts[-1] in ('mod','lib','main'): parts=parts[:-1]
    return '::'.join(parts)
for crate in sys.argv[1:]:
    root=os.path.join(crate,'src')
    files=[]
    for d,_,fs in os.walk(root):
        for f in fs:
            if f.endswith('.rs'): files.append(os.path.join(d,f))
    mods={modname(root,f):f for f in files}
    g={m:set() for m in mods}
    for m,f in mods.items():
        text=open(f).read()
        # strip test modules roughly
        text=re.split(r'#\[cfg\(test\)\]', text)[0]
        for ref in re.findall(r'crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', text):
            parts=ref.split('::')
            # longest module prefix
            for k in range(len(parts),0,-1):
                cand='::'.join(parts[:k])
                if cand in mods and cand!=m and not m.startswith(cand+'::') and not cand.startswith(m+'::') :
                    g[m].add(cand); break
        parent='::'.join(m.split('::')[:-1])
        for ref in re.findall(r'\bsuper::([a-z_][a-z0-9_]*)', text):
            cand=(parent+'::'+ref) if parent else ref
            if cand in mods and cand!=m: g[m].add(cand)
    # find cycles between top-level siblings (strongly connected comps)
    idx={};low={};st=[];on=set();res=[];c=[0]
    def sc(v):
        idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
        for w in g[v]:
            if w not in idx: sc(w);low[v]=min(low[v],low[w])
            elif w in on: low[v]=min(low[v],idx[w])
        if low[v]==idx[v]:
            comp=[]
            while True:
                w=st.pop();on.discard(w);comp.append(w)
                if w==v: break
            if len(comp)>1: res.append(comp)
    sys.setrecursionlimit(10000)
    for v in g:
        if v not in idx: sc(v)
    print(crate, res if res else 'no circles')
    if res:
        bad = True

sys.exit(1 if bad else 0)
