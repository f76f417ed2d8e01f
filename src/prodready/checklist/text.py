"""Text analysis for the checklist mapper: words → weighted terms, offline and deterministic.

1. Multi-word expressions people use for one practice are rewritten to one term ("point-in-time recovery" →
   ``pitr``, "on-call" → ``oncall``, "blue/green" → ``bluegreen``).
2. Words are split, generic checklist words dropped (``STOPWORDS``: "add", "enable", "production", ...),
   stemmed (Porter) and canonicalised (``CANON``: "ssl"/"https" → ``tls``, "k8s" → ``kubernetes``).
3. Each term brings the broader concepts it implies at a lower weight (``IMPLIES``: ``postgresql`` implies
   ``databas`` and ``datastor``; ``trivy`` implies ``vulner`` and ``scan``), so an item naming a tool meets a
   definition naming the practice.
4. Adjacent terms also form a bigram (``rate_limit``, ``read_replic``, ``load_test``), which keeps "load test"
   apart from "load balancer".

The tables are written by meaning — what the words denote in operations practice — not from any particular
checklist's wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .parser import repair_mojibake
from .stem import stem

IMPLIED_WEIGHT = 0.5
BIGRAM_WEIGHT = 0.7

# Multi-word expressions → one canonical token (applied to lower-cased text, before splitting).
PHRASES: list[tuple[str, str]] = [
    (r"point[- ]in[- ]time[- ]recover\w*|\bpitr\b|\bwal[- ]archiv\w*", " pitr "),
    (r"\bon[- ]?call\b", " oncall "),
    (r"\bblue[- /]?green\b", " bluegreen "),
    (r"\ba/b[- ]test\w*|\bab[- ]test\w*|\bsplit[- ]test\w*|\bexperiment\w*", " abtest "),
    (r"\bend[- ]to[- ]end\b|\be2e\b", " e2e "),
    (r"\bdisaster[- ]recovery\b|\bdr\b|\bbusiness[- ]continuity\b", " disasterrecovery "),
    (r"\brecovery time objective\b|\brto\b", " rto "),
    (r"\brecovery point objective\b|\brpo\b", " rpo "),
    (r"\bpen(etration)?[- ]?test\w*", " pentest "),
    (r"\brate[- ]?limit\w*|\bthrottl\w*|\blimit_req\w*|\b429\b", " ratelimit "),
    (r"\bload[- ]?balanc\w*|\b(alb|elb|nlb)\b", " loadbalanc "),
    (r"\bload[- ]?test\w*|\bstress[- ]test\w*|\bperformance[- ]test\w*|\bsoak[- ]test\w*|\bbenchmark\w*",
     " loadtest "),
    (r"\bhealth[- ]?checks?\b|\bhealth[- ]?endpoints?\b|/health\w*|\bhealthz\b", " health healthcheck "),
    (r"\bliveness\b", " liveness healthcheck "),
    (r"\breadiness\b", " readiness healthcheck "),
    (r"\bcircuit[- ]breakers?\b", " circuitbreak "),
    (r"\bfeature[- ](flag|toggle|switch)\w*", " featureflag "),
    (r"\bsecurity[- ]headers?\b|\bx-frame-options\b|\bcontent[- ]security[- ]policy\b|\bhelmet\b",
     " securityhead "),
    (r"\bstrict[- ]transport[- ]security\b|\bhsts\b", " hsts "),
    (r"\bcross[- ]origin\b|\bcors\b", " cors "),
    (r"\binfrastructure[- ]as[- ]code\b|\biac\b", " iac "),
    (r"\bgit[- ]?ops\b|\bargo ?cd\b|\bflux ?cd\b", " gitops deploy autom "),
    (r"\bcontinuous (integration|delivery|deployment)\b|\bci/cd\b|\bci-cd\b|\bcicd\b", " ci pipelin "),
    (r"\bgithub actions\b|\bgitlab[- ]ci\b|\bjenkins\w*|\bcircleci\b|\bbuildkite\b|\bazure pipelines\b",
     " ci pipelin "),
    (r"\bservice[- ]mesh\b|\bistio\b|\blinkerd\b", " servicemesh "),
    (r"\bmutual tls\b|\bmtls\b", " mtls servicemesh servic auth "),
    (r"\bsingle sign[- ]on\b|\bsso\b|\boauth\d?\b|\boidc\b|\bopenid\b|\bldap\b|\bsaml\b|\bjwt\b|\bapi[- ]keys?\b",
     " authent "),
    (r"\brole[- ]based\b|\brbac\b", " rbac role permiss "),
    (r"\bread[- ]replicas?\b", " readreplica "),
    (r"\bconnection[- ]pool\w*|\bpgbouncer\b|\bpool_size\b|\bmax_overflow\b|\bpgpool\b", " connectionpool "),
    (r"\bsecrets?[- ]manager\b|\bkey[- ]?vault\b|\bvault\b|\bsealed[- ]?secrets?\b|\bexternal[- ]?secrets?\b",
     " secretmanag "),
    (r"\bdefault (password|credential|login|user)\w*|\badmin/admin\b|\bminioadmin\b|\bchangeme\b",
     " defaultcred "),
    (r"\bright[- ]?siz\w*", " rightsiz "),
    (r"\bspot (instance|node|vm|capacity)\w*|\bpreemptible\b", " spot "),
    (r"\breserved (instance|capacity)\w*|\bsavings plans?\b|\bcommitted[- ]use\b|\bcommitted (instance|capacity)\w*",
     " reservedinst "),
    (r"\bauto[- ]?scal\w*|\bhpa\b|\bkeda\b|\bhorizontal pod autoscaler\b", " autoscal "),
    (r"\bcluster[- ]autoscal\w*|\bkarpenter\b|\bnode (auto[- ]?)?scal\w*", " clusterautoscal autoscal node "),
    (r"\bstructured logg\w*|\bjson (log|format)\w*|\bstructlog\b|\bpino\b", " structuredlog "),
    (r"\bcorrelation[- ]ids?\b|\brequest[- ]ids?\b|\btrace[- ]ids?\b|\bx-request-id\b", " correlationid "),
    (r"\bdistributed[- ]tracing\b|\bopentelemetry\b|\botel\b|\bjaeger\b|\bzipkin\b|\btempo\b", " trace "),
    (r"\bp\d\d\b|\bpercentile\w*|\bresponse[- ]times?\b|\blatenc\w*", " latenc "),
    (r"\bdead[- ]letter\w*|\bdlq\b", " deadletter "),
    (r"\bsingle point of failure\b|\bspof\b", " singlepoint "),
    (r"\bappend[- ]only file\b|\baof\b", " redispersist "),
    (r"\bnode[- ]exporter\b|\bcadvisor\b|\bkube[- ]state[- ]metrics\b", " resourc metric "),
    (r"\bmulti[- ]?(az|zone)\b|\bavailability zones?\b|\banti[- ]?affinity\b|\btopology spread\w*",
     " multizon "),
    (r"\bmulti[- ]?region\b|\bgeo[- ]?redundan\w*", " multiregion "),
    (r"\bcross[- ]region\b", " offsit multiregion "),
    (r"\boff[- ]?site\b|\b(secondary|second|separate|another|other|different|remote) (region|site|location|"
     r"data ?cent(er|re))\b", " offsit "),
    (r"\bup[- ]to[- ]date\b|\bkept current\b|\bcurrent\b(?!\s+state)|\boutdated\b|\bstale\b|\bupdated\b|"
     r"\brefreshed\b", " uptodat "),
    (r"\bstatic (assets|files|content)\b", " staticasset "),
    (r"\bslo\b|\bsla\b|\bslas\b|\bslos\b|\bsli\b|\bservice level\w*|\berror budgets?\b", " slo "),
    (r"\bgdpr\b|\bccpa\b|\bhipaa\b|\bdpia\b", " gdpr privaci "),
    (r"\bpii\b|\bpersonal (data|information)\b|\bpersonally identifiable\b|\bsensitive (data|fields?)\b",
     " pii "),
    (r"\bright to (be forgotten|erasure|deletion)\b|\berasure\b(?![- ]cod)", " erasur delet "),
    (r"\bsql[- ]injection\b|\bparameteri[sz]ed (queries|query|statements?)\b|\bprepared statements?\b",
     " sqlinject "),
    (r"\bdata[- ]lineage\b|\bopenlineage\b|\bmarquez\b", " lineag "),
    (r"\bdata[- ]catalog\w*|\bdatahub\b|\bapache atlas\b|\bamundsen\b", " datacatalog "),
    (r"\bdata[- ]quality\b|\bgreat expectations\b|\bsoda\b|\bdbt tests?\b", " dataqual "),
    (r"\bschema[- ]evolution\b|\bschema[- ]registry\b", " schemaevol "),
    (r"\bobject[- ]stor\w*|\bblob stor\w*|\bdata lake\b|\bdatalake\b", " objectstor "),
    (r"\bvacuum\w*|\bautovacuum\w*", " vacuum "),
    (r"\bshared_buffers\b|\bwork_mem\b|\beffective_cache_size\b|\bmaxmemory\w*|\bjvm heap\b|\bheap size\b|"
     r"\berasure coding\b|\bmax_connections\b|\bmax_memory_usage\b|\bmax_threads\b|\bssds?\b|\bnvme\b",
     " tune datastor "),
    (r"\bwaf\b|\bweb application firewall\b|\bmodsecurity\b", " waf "),
    (r"\bddos\b|\bdenial[- ]of[- ]service\b|\baws shield\b|\bcloud armor\b", " ddos "),
    (r"\bvpn\b|\bbastion\w*|\bjump ?host\w*|\bwireguard\b", " vpn "),
    (r"\bwhite[- ]?list\w*|\ballow[- ]?list\w*|\bsecurity[- ]groups?\b|\bnetwork[- ]polic\w*|\bfirewall\w*|"
     r"\bip[- ]restrict\w*", " firewal "),
    (r"\bsast\b|\bdast\b|\bcodeql\b|\bsemgrep\b|\bbandit\b|\bowasp zap\b|\bzap\b|\bsonarqube\b|\bstatic analysis\b",
     " sast "),
    (r"\bdependabot\b|\brenovate\b", " depupdat secur updat "),
    (r"\bcosign\b|\bsigstore\b|\bnotary\b|\bnotation\b|\bimage signing\b|\bsign(ed)? images?\b", " imagesign "),
    (r"\bmulti[- ]stage\b", " multistag "),
    (r"\bdistroless\b|\balpine\b|\bslim\b|\bscratch\b", " minimalimag "),
    (r"\bnon[- ]root\b|\brootless\b|\brunasnonroot\b", " nonroot "),
    (r"\bpod[- ]security\w*|\bpsp\b|\bpsa\b|\bseccomp\b|\bgatekeeper\b|\bkyverno\b", " podsecur "),
    (r"\bservice[- ]?accounts?\b|\brole[- ]?bindings?\b|\bclusterroles?\b", " serviceaccount kubernetes rbac "),
    (r"\bresource[- ]?quotas?\b|\blimit[- ]?ranges?\b", " resourcequota "),
    (r"\bcontrol[- ]plane\b|\bmaster nodes?\b|\bworker nodes?\b", " clusternod kubernetes "),
    (r"\bpersistent[- ]?volumes?\b|\bpvcs?\b|\bstorage[- ]?class\w*|\bcsi\b", " persistentvolum "),
    (r"\bvolume[- ]snapshots?\b|\bsnapshots?\b|\bvelero\b", " snapshot "),
    (r"\bcert[- ]?manager\b|\blet'?s ?encrypt\b|\bcertbot\b|\bacme\b|\bauto[- ]?renew\w*", " certrenew "),
    (r"\bcdn\b|\bcloudflare\b|\bcloudfront\b|\bfastly\b|\bakamai\b", " cdn "),
    (r"\bgzip\b|\bbrotli\b|\bdeflate\b", " compress "),
    (r"\bpaginat\w*|\bcursor[- ]based\b|\blimit/offset\b", " paginat "),
    (r"\bspark\b|\bpyspark\b|\bdatabricks\b", " spark "),
    (r"\bllms?\b|\bopenai\b|\banthropic\b|\bgpt\w*|\bclaude\b|\blanguage models?\b", " llm "),
    (r"\bdocker[- ]?images?\b|\bcontainer images?\b|\bbase images?\b", " imag contain "),
    (r"\bcanary\w*|\bprogressive (delivery|rollout)\w*|\bflagger\b|\bargo rollouts\b", " canari "),
    (r"\brolling[- ]?updates?\b|\brolling (deploy|restart)\w*", " rollingupd "),
    (r"\broll[- ]?backs?\b|\brolled back\b|\brolling back\b", " rollback "),
    (r"\bsmoke[- ]?tests?\b", " smoketest "),
    (r"\bunit[- ]?tests?\b", " unittest "),
    (r"\bintegration[- ]?tests?\b|\bapi tests?\b|\bcontract tests?\b", " integrationtest "),
    (r"\blint\w*|\bflake8\b|\bruff\b|\beslint\b|\bprettier\b|\bformat(ting)? checks?\b", " lint "),
    (r"\bchaos\w*|\bfault[- ]injection\b|\blitmus\b|\bgremlin\b", " chaos "),
    (r"\bexponential backoff\b|\bbackoff\b|\bretry\w*|\bretries\b|\btenacity\b", " retri "),
    (r"\btime[- ]?outs?\b", " timeout "),
    (r"\bfallbacks?\b|\bgraceful(ly)? degrad\w*", " fallback "),
    (r"\bindex\w*|\bindices\b", " index "),
    (r"\bplaybooks?\b", " playbook incid "),
    (r"\bpost[- ]?mortems?\b|\bretrospectives?\b|\bretros\b", " postmortem "),
    (r"\bescalation\w*|\bcontacts?\b", " escal contact "),
    (r"\badrs?\b|\barchitecture decision\w*", " adr "),
    (r"\bdiagrams?\b|\btopology\b", " diagram "),
    (r"\bopenapi\b|\bswagger\b|\bapi (reference|documentation|docs)\b", " apidoc "),
    (r"\bversion(ed|ing)? (the )?api\b|\bapi version\w*|/v\d\b", " apivers "),
    (r"\bgrafana\b|\bkibana\b", " grafana dashboard "),
    (r"\bdashboards?\b", " dashboard "),
    (r"\balertmanager\b|\bpagerduty\b|\bopsgenie\b|\bvictorops\b|\bslack\b", " alertrout alert "),
    (r"\belk\b|\belasticsearch\b|\blogstash\b|\bloki\b|\bfluent[- ]?d\b|\bfluent[- ]?bit\b|\bpromtail\b|"
     r"\bvector\b|\bsplunk\b|\bstackdriver\b|\bcloudwatch logs\b|\bpapertrail\b", " logaggreg log "),
    (r"\bcentrali[sz]\w*", " logaggreg "),
    (r"\bstdout\b|\bstderr\b|\bstandard output\b", " stdout "),
    (r"\blog[- ]?levels?\b|\bverbosity\b", " loglevel "),
    (r"\bretention\w*|\bttl\b|\blifecycle\w*|\bexpir\w*|\bpurg\w*|\bdelete old\b", " retent "),
    (r"\bkafka\b|\brabbitmq\b|\bnats\b|\bpulsar\b|\bsqs\b|\bkinesis\b|\bmsk\b|\bevent hubs?\b", " kafka broker "),
    (r"\bconsumer[- ]lag\b|\bproducer[- ]lag\b", " kafka lag "),
    (r"\bpartitions?\b|\bpartitioning\b|\bpartitioned\b", " partit "),
    (r"\bzookeeper\b|\bquorum\b|\bsentinel\b|\bpatroni\b|\brepmgr\b", " cluster failov "),
    (r"\bfailover\w*|\bfail[- ]over\b", " failov "),
    (r"\bencrypt\w* (in|at) rest\b|\bat[- ]rest\b|\bsse\b|\bkms\b", " encrypt rest "),
    (r"\bencrypt\w* in transit\b|\bin[- ]transit\b", " tls "),
    (r"\bsasl\b|\bacls?\b|\biam\b|\banonymous\b|\bbucket polic\w*", " internalauth "),
    (r"\bmigrations?\b|\balembic\b|\bflyway\b|\bliquibase\b", " migrat "),
    (r"\bgit\b|\bgithub\b|\bgitlab\b|\brepositor\w*|\brepos?\b|\bversion control\b", " git "),
    (r"\.env\b|\bdotenv\b", " envfil "),
    (r"\benvironment variables?\b|\benv vars?\b|\benv\b", " envvar "),
    (r"\bscan\w*", " scan "),
    (r"\bcve\w*|\btrivy\b|\bgrype\b|\bsnyk\b|\bpip-audit\b|\bnpm audit\b|\bclair\b", " vulner scan "),
    (r"\bdeletion\b|\bdelete\b|\bdeleting\b|\bremoval of (user|personal) data\b", " delet "),
    (r"\bexport\w*|\bportability\b", " export "),
    (r"\bconsent\w*", " consent "),
    (r"\bstaging\b|\bpre[- ]?prod\w*|\buat\b", " stage "),
    (r"\bapproval\w*|\bapprov\w*|\bsign[- ]?off\b", " approv "),
]
_PHRASE_RX = [(re.compile(p), r) for p, r in PHRASES]

# Generic words of checklists that say nothing about which practice is meant.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing done down during each either etc few for from further had has have
having he her here how i if in into is it its itself just let may me might more most must my no nor not now of
off on once only or other our out over own per same shall she should so some such than that the their them then
there these they this those through to too under until up upon very via was we were what when where which while
who whom why will with within without would you your yes e.g eg i.e ie vs via
add adding added implement implementing implemented implementation enable enabled enabling configure configured
configuring configuration config set setting setup sets use used using create created creating ensure make
proper properly appropriate appropriately basic advanced improve improvement improvements need needed needs
current currently state phase week weeks priority step steps consider considering recommended recommendation
production prod ready readiness checklist item items task tasks todo go live going launch
good best practice practices important necessary required require requires well new existing all every
option options example examples e g based like following follow guide where possible etc
run running runs optimize optimise optimized optimised optimizing optimising optimization optimisation
optimizations optimisations
""".split())
# Words that name a technology, not what is done with it: an item made only of these takes its meaning from its
# context (the item it is nested under, the heading).
ENTITY_WORDS = """
postgresql postgres mysql mariadb mongodb redis kafka rabbitmq minio clickhouse airflow spark
grafana prometheus kubernetes docker compose helm terraform ansible
aws gcp azure s3 gcs api apis backend frontend ui web app application service services server servers worker
workers gateway database databases db broker brokers dashboard
llm openai anthropic timescaledb system systems platform component components
"""

# Stem-level canonical forms (after Porter): variants of one idea → one term.
CANON: dict[str, str] = {
    "deploi": "deploy", "scalabl": "scale", "scalabil": "scale", "scal": "scale", "retain": "retent",
    "redi": "redis", "aw": "aws", "automat": "autom", "automaticali": "autom", "replica": "replic", "indic": "index", "ssl": "tls",
    "http": "http", "https": "tls", "tl": "tls", "k8": "kubernetes", "k8s": "kubernetes", "kube": "kubernetes",
    "kubectl": "kubernetes", "ek": "kubernetes", "gke": "kubernetes", "ak": "kubernetes", "db": "databas",
    "postgr": "postgresql", "postgresql": "postgresql", "pg": "postgresql", "psql": "postgresql",
    "rd": "databas", "aurora": "databas", "mysql": "databas", "mariadb": "databas", "mongodb": "databas",
    "timescaledb": "postgresql", "memcach": "cach", "cach": "cach", "credenti": "secret", "password": "secret",
    "passwd": "secret", "token": "secret", "vulner": "vulner", "vuln": "vulner", "cert": "certif",
    "certif": "certif", "metric": "metric", "alert": "alert", "log": "log", "logger": "log", "backup": "backup",
    "doc": "document", "docs": "document", "readm": "document", "wiki": "document", "avail": "avail",
    "uptim": "avail", "outag": "downtim", "down": "downtim", "downtim": "downtim", "instanc": "instanc",
    "node": "node", "pod": "pod", "contain": "contain", "dockerfil": "contain", "guid": "guid",
    "manual": "guid", "handbook": "guid", "faq": "guid", "howto": "guid", "mem": "memori", "ram": "memori",
    "memori": "memori", "cpu": "cpu", "vcpu": "cpu", "core": "cpu", "gb": "size", "mb": "size", "tb": "size",
    "gi": "size", "mi": "size", "gib": "size", "mib": "size", "storag": "storag", "disk": "disk",
    "volum": "volum", "throughput": "throughput", "rp": "throughput", "qp": "throughput", "tp": "throughput",
    "error": "error", "4xx": "error", "5xx": "error", "except": "error", "failur": "fail", "fail": "fail",
    "crash": "fail", "broken": "fail", "slow": "latenc", "fast": "latenc", "speed": "latenc",
    "encrypt": "encrypt", "cipher": "encrypt", "gpg": "encrypt", "rotat": "rotat", "renew": "rotat",
    "expir": "retent", "purg": "retent", "archiv": "retent", "tier": "tier", "cold": "tier", "glacier": "tier",
    "cost": "cost", "spend": "cost", "bill": "cost", "budget": "cost", "financ": "cost", "cheaper": "cost",
    "cheap": "cost", "kubecost": "cost", "opencost": "cost", "price": "cost", "pentest": "pentest",
    "team": "team", "staff": "team", "peopl": "team", "engin": "team", "train": "train", "onboard": "train",
    "educ": "train", "workshop": "train", "drill": "drill", "rehears": "drill", "exercis": "drill",
    "simul": "drill", "gameday": "drill", "verifi": "verifi", "valid": "valid", "check": "check",
    "inspect": "check", "audit": "audit", "review": "review", "assess": "review", "evalu": "review",
    "apprais": "review", "revisit": "review", "feedback": "feedback", "survei": "feedback", "complaint": "feedback",
    "bug": "issu", "issu": "issu", "ticket": "issu", "triag": "triag", "prioritis": "triag", "priorit": "triag",
    "commun": "commun", "announc": "commun", "notifi": "notif", "notif": "notif", "email": "notif",
    "statu": "statu", "secur": "secur", "sanit": "valid", "whitelist": "firewal", "public": "public",
    "internet": "public", "expos": "public", "extern": "public", "privat": "privat", "intern": "privat",
    "isol": "privat", "loadbalanc": "loadbalanc", "proxi": "proxi", "ingress": "proxi", "revers": "proxi",
    "traefik": "proxi", "nginx": "nginx", "haproxi": "proxi", "envoi": "proxi", "dn": "dns", "domain": "dns",
    "cname": "dns", "route53": "dns", "subdomain": "dns", "hostnam": "dns", "plan": "plan", "forecast": "plan",
    "trend": "trend", "growth": "trend", "capac": "capac", "kpi": "metricdef", "okr": "metricdef",
    "mainten": "mainten", "window": "window", "calendar": "schedul", "schedul": "schedul", "cron": "schedul",
    "cronjob": "schedul", "daili": "schedul", "hourli": "schedul", "weekli": "schedul", "nightli": "schedul",
    "regularli": "regular", "regular": "regular", "period": "regular", "quarterli": "regular",
    "monthli": "regular", "annual": "regular", "recur": "regular", "sync": "meet", "meet": "meet",
    "standup": "meet", "huddl": "meet", "cadenc": "meet", "admin": "admin", "administr": "admin",
    "superus": "admin", "root": "root", "user": "user", "custom": "user", "client": "user",
    "respons": "respons", "sla": "slo", "slo": "slo", "util": "usag", "utilis": "usag", "utiliz": "usag",
    "consumpt": "usag", "usag": "usag", "recov": "recoveri",
}

# What a term implies (added at IMPLIED_WEIGHT): tools and datastores to their practice or family.
IMPLIES: dict[str, tuple[str, ...]] = {
    "postgresql": ("databas", "datastor"), "databas": ("datastor",), "redis": ("cach", "datastor"),
    "cach": ("datastor",), "clickhous": ("databas", "datastor"), "kafka": ("broker", "datastor"),
    "broker": ("datastor",), "minio": ("objectstor", "datastor"), "s3": ("objectstor",),
    "gc": ("objectstor",), "bucket": ("objectstor",), "objectstor": ("datastor",), "zookeep": ("cluster",),
    "prometheu": ("metric", "monitor"), "exporter": ("metric",), "grafana": ("dashboard", "monitor"),
    "pitr": ("backup", "restor"), "snapshot": ("backup",), "pg_dump": ("backup",), "walg": ("backup",),
    "pgbackrest": ("backup",), "rto": ("disasterrecovery",), "rpo": ("disasterrecovery",),
    "pentest": ("secur", "audit"), "vulner": ("secur",), "sast": ("secur", "scan"), "imagesign": ("secur",),
    "nonroot": ("contain", "secur"), "minimalimag": ("imag",), "multistag": ("imag",),
    "certrenew": ("certif", "tls"), "hsts": ("tls", "securityhead"), "mtls": ("tls",),
    "autoscal": ("scale",), "clusterautoscal": ("scale",), "readreplica": ("replic", "databas"),
    "connectionpool": ("connect", "pool", "databas"), "structuredlog": ("log",), "logaggreg": ("log",),
    "loglevel": ("log",), "correlationid": ("trace", "log"), "oncall": ("incid", "alert"),
    "alertrout": ("alert",), "ratelimit": ("api",), "waf": ("firewal",), "ddos": ("firewal",),
    "vpn": ("privat", "admin"), "podsecur": ("kubernetes", "secur"), "serviceaccount": ("kubernetes",),
    "resourcequota": ("kubernetes",), "clusternod": ("cluster",), "persistentvolum": ("storag", "volum"),
    "canari": ("releas",), "bluegreen": ("releas",), "rollingupd": ("releas",), "featureflag": ("releas",),
    "abtest": ("releas",), "e2e": ("test",), "smoketest": ("test",), "unittest": ("test",),
    "integrationtest": ("test",), "loadtest": ("test", "perform"), "chaos": ("test", "fail"),
    "disasterrecovery": ("recoveri",), "failov": ("avail",), "multizon": ("avail",),
    "multiregion": ("avail",), "gitops": ("deploy",), "dataqual": ("data",), "lineag": ("data",),
    "datacatalog": ("data",), "schemaevol": ("schema",), "gdpr": ("complianc",), "pii": ("privaci",),
    "erasur": ("privaci",), "consent": ("privaci",), "defaultcred": ("secret",), "secretmanag": ("secret",),
    "envfil": ("secret", "git"), "sqlinject": ("secur", "queri"), "trace": ("observ",),
    "apidoc": ("api", "document"), "apivers": ("api",), "adr": ("document",), "runbook": ("document",),
    "playbook": ("document",), "diagram": ("document", "architectur"), "spot": ("cost",),
    "reservedinst": ("cost",), "rightsiz": ("cost",), "cdn": ("cach",), "staticasset": ("cach",),
    "spark": ("pipelin",), "monitor": ("metric",), "metric": ("monitor",), "usag": ("metric",), "airflow": ("pipelin",), "etl": ("pipelin",), "llm": ("api",),
}

_WORD = re.compile(r"[a-z0-9]+")
_NUMERIC = re.compile(r"^\d+[a-z]{0,2}$")
_UNIT = re.compile(r"^\d+(?:\.\d+)?(gb|mb|tb|gi|mi|gib|mib|tib|cores?|vcpus?|ms|s|m|h|d|days?|hours?|minutes?)$")
# the one-word terms the phrase table produces are canonical already: they are not stemmed again
_CANONICAL = frozenset(w for _, r in PHRASES for w in r.split())


def _normalise_phrases(text: str) -> str:
    t = repair_mojibake(text).lower().replace("\u2019", "'")
    t = re.sub(r"[`*]+", " ", t)
    for rx, repl in _PHRASE_RX:
        t = rx.sub(repl, t)
    return t.replace("_", " ")


def terms(text: str) -> list[str]:
    """The canonical terms of ``text`` in order (no implied terms, no bigrams)."""
    out: list[str] = []
    for raw in _WORD.findall(_normalise_phrases(text)):
        unit = _UNIT.match(raw)
        if unit:
            u = unit.group(1)
            out.append("size" if u[0] in "gt" or u in ("mb", "mi", "mib") or u.startswith(("core", "vcpu"))
                       else "durat")
            continue
        if _NUMERIC.match(raw) or raw in STOPWORDS or len(raw) < 2:
            continue
        if raw in _CANONICAL:
            out.append(raw)
            continue
        s = stem(raw)
        s = CANON.get(s, s)
        if s and s not in STOPWORDS:
            out.append(s)
    return out


def weighted_terms(text: str, weight: float = 1.0) -> dict[str, float]:
    """Term → weight for ``text``: its terms, the concepts they imply, and adjacent-pair bigrams."""
    ts = terms(text)
    bag: dict[str, float] = {}
    for t in ts:
        bag[t] = bag.get(t, 0.0) + weight
    present = set(ts)
    for t in ts:
        for imp in IMPLIES.get(t, ()):
            if imp not in present:
                bag[imp] = max(bag.get(imp, 0.0), weight * IMPLIED_WEIGHT)
    for a, b in zip(ts, ts[1:], strict=False):
        if a != b:
            key = f"{a}_{b}"
            bag[key] = bag.get(key, 0.0) + weight * BIGRAM_WEIGHT
    return bag


def merge(bags: Iterable[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for b in bags:
        for k, v in b.items():
            out[k] = out.get(k, 0.0) + v
    return out


ENTITIES = frozenset(t for w in ENTITY_WORDS.split() for t in terms(w)) | {"datastor", "objectstor", "broker"}


def only_entities(text: str) -> bool:
    """True when the text names only technologies (``Kafka``, ``MinIO API``) and no practice."""
    return all(t in ENTITIES for t in terms(text))
