#!/bin/bash
# Generalisation runs (issue 13): five bundles, baselines vs the new generator, both protocols.
cd /work/main
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False
C=.venv/bin/concierge
SYS=popularity,bm25,embedding,retrieval
CMP="--compare retrieval,bm25 --compare retrieval,embedding --compare retrieval,popularity"
echo "load before: $(cat /proc/loadavg)"
$C eval bench/bundles/maison-home --systems $SYS --k 5,10 --protocol both $CMP --out docs/results/generalization/maison-home --quiet
echo "load: $(cat /proc/loadavg)"
$C eval bench/bundles/atelier --systems $SYS --k 5,10 --protocol both $CMP --out docs/results/generalization/atelier --quiet
echo "load: $(cat /proc/loadavg)"
[ -d var/bundles/sephora ] || .venv/bin/python -m catalog.importers.sephora --out var/bundles/sephora
$C eval var/bundles/sephora --systems $SYS --k 5,10 --protocol both $CMP --out docs/results/generalization/sephora --quiet
echo "load: $(cat /proc/loadavg)"
[ -d var/bundles/demo ] || $C demo --out var/bundles/demo
$C eval var/bundles/demo --systems $SYS --k 5,10 --protocol both $CMP --limit 300 --out docs/results/generalization/demo --quiet
echo "load: $(cat /proc/loadavg)"
[ -d var/bundles/ml ] || $C movielens --out var/bundles/ml
$C eval var/bundles/ml --systems $SYS --k 5,10 --protocol both $CMP --limit 300 --out docs/results/generalization/ml-100k --quiet
echo "load after: $(cat /proc/loadavg)"
