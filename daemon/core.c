#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "state.h"
#include "vpc/edit.h"
#include "vpc/nacl.h"

/* What this build realizes in the kernel; the rest is refused as not supported yet. */
#define VPCD_FEATURES FEAT_ALL


static json_t *plan_summary(const struct plan *p, const struct topology *t)
{
	json_t *counts = json_object(), *ops = json_array();
	json_int_t checks = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct op *o = &p->ops[i];
		const char *k = op_kind_name(o->kind);
		if (o->check) {
			checks++;
			continue; /* re-asserted, not changed: counted apart */
		}
		json_object_set_new(counts, k,
				    json_integer(json_integer_value(json_object_get(counts, k)) + 1));
		json_t *e = json_pack("{s:s}", "op", k);
		if (o->kind == OP_NS_DELETE)
			json_object_set_new(e, "namespace", json_string(o->name));
		else
			json_object_set_new(e, "vpc", json_string(o->name));
		if ((o->kind == OP_INST_CREATE || o->kind == OP_INST_ENSURE) && o->vpc >= 0)
			json_object_set_new(
				e, "instance",
				json_string(t->vpcs[o->vpc].instances[o->idx].name));
		if (o->kind == OP_GW_ADD && o->vpc >= 0)
			json_object_set_new(e, "subnet",
					    json_string(t->vpcs[o->vpc].subnets[o->idx].name));
		if (o->kind == OP_PORT_DELETE)
			json_object_set_new(e, "port_id", json_integer(o->id));
		json_array_append_new(ops, e);
	}
	return json_pack("{s:i,s:i,s:o,s:o}", "changes", (json_int_t)p->n - checks, "checked",
			 checks, "counts", counts, "operations", ops);
}

/* Check operations that had to put something back are changes after all. */
static void count_repairs(json_t *result, unsigned n)
{
	json_t *counts = json_object_get(result, "counts");
	json_object_set_new(result, "changes",
			    json_integer(json_integer_value(json_object_get(result, "changes")) + n));
	json_object_set_new(result, "checked",
			    json_integer(json_integer_value(json_object_get(result, "checked")) - n));
	json_object_set_new(counts, "nacl-program-attach", json_integer(n));
}

/* Observe, plan towards `t` (the kernel having been built from `prev`), execute. */
static int converge(struct vpcd *d, const struct topology *t, const struct topology *prev,
		    bool deep, bool dry_run, json_t **result, struct vpc_err *err)
{
	struct observed obs;
	struct plan p;
	double t0 = mono_ms(), t1, t2, t3;
	int e;
	if ((e = kernel_observe(&d->k, &obs)))
		return vpc_fail(err, VPC_E_KERNEL, "", "cannot read the kernel state: %s",
				strerror(-e));
	t1 = mono_ms();
	e = plan_build(t, prev, &obs, deep, &p);
	observed_free(&obs);
	if (e)
		return vpc_fail(err, VPC_E_INTERNAL, "", "planning failed: %s", strerror(-e));
	if (result)
		*result = plan_summary(&p, t);
	t2 = mono_ms();
	if (!dry_run) {
		e = kernel_execute(&d->k, t, &p, err);
		if (!e && d->k.repaired && result && *result)
			count_repairs(*result, d->k.repaired);
	}
	plan_free(&p);
	t3 = mono_ms();
	d->tidy_due |= !dry_run;
	log_debug("observe %.2f ms, plan %.2f ms, execute %.2f ms", t1 - t0, t2 - t1, t3 - t2);
	return e;
}

/* A change of the entries of NACLs in VPC `vpc`, and of nothing else: the one
 * operation it needs, planned without reading the kernel first. (The full path
 * reads it to repair drift on the way; `vpcctl reconcile` still does that.)
 * *taken false: the router is not ready for it, take the full path. */
static int converge_nacls(struct vpcd *d, const struct topology *t, const char *vpc,
			  json_t **result, bool *taken, struct vpc_err *err)
{
	int vi = topo_find_vpc(t, vpc);
	*taken = vi >= 0 && d->topo && topo_find_vpc(d->topo, vpc) >= 0 &&
		 kernel_nacls_ready(&d->k, vpc);
	if (!*taken)
		return 0;
	struct op o = {.kind = OP_NACL_SYNC, .vpc = vi, .idx = -1};
	snprintf(o.name, sizeof(o.name), "%s", vpc);
	const struct plan p = {.ops = &o, .n = 1, .cap = 1};
	double t0 = mono_ms();
	if (result)
		*result = plan_summary(&p, t);
	int e = kernel_execute(&d->k, t, &p, err);
	d->tidy_due = true;
	log_debug("NACL entries of %s alone: execute %.2f ms", vpc, mono_ms() - t0);
	return e;
}

/* After a failure: put the kernel back to the state `d` still describes. */
static void roll_back(struct vpcd *d, const struct topology *attempted, struct vpc_err *err)
{
	struct vpc_err rerr;
	vpc_err_clear(&rerr);
	if (converge(d, d->topo, attempted, false, false, NULL, &rerr)) {
		log_err("rollback incomplete: %s", rerr.msg);
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n,
			 " (rolling back failed too: %s; run `vpcctl reconcile`)", rerr.msg);
	} else {
		log_info("rolled back");
	}
}

/* What validation can only check on this host: the uplink's interface. */
static int check_host(const struct topology *t, struct vpc_err *err)
{
	char path[96];
	if (!t->uplink[0])
		return 0;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s", t->uplink);
	if (access(path, F_OK))
		return vpc_fail(err, VPC_E_INVALID, "internet.uplink",
				"host interface %s does not exist", t->uplink);
	return 0;
}

static int compile(struct vpcd *d, const json_t *doc, struct topology **out, struct vpc_err *err)
{
	struct compile_opts o = {.features = d->features, .prev_alloc = d->alloc, .prev = d->topo};
	return topo_compile(doc, &o, out, err);
}

/* What a change does to the model between compiling and applying it, and to the
 * document between applying and saving it (see vpcd_change_lists). */
struct change_hooks {
	int (*model)(struct topology *t, void *arg, struct vpc_err *err);
	int (*doc)(json_t *next, struct topology *t, void *arg, struct vpc_err *err);
	void *arg;
};

static void free_old(struct vpcd *d)
{
	json_decref(d->old_desired);
	json_decref(d->old_alloc);
	topo_free(d->old_topo);
	d->old_desired = d->old_alloc = NULL;
	d->old_topo = NULL;
}

static int change(struct vpcd *d, json_t *next, const struct change_hooks *h,
		  const char *nacls_of, bool dry_run, json_t **result, struct vpc_err *err)
{
	bool taken = false;
	struct topology *t = NULL;
	json_t *alloc = NULL;
	double t0 = mono_ms();
	int e;

	/* Validation first: nothing is touched unless the whole state is valid. */
	if ((e = compile(d, next, &t, err)) || (h && (e = h->model(t, h->arg, err))) ||
	    (e = check_host(t, err)))
		goto out;
	log_debug("validate %.2f ms", mono_ms() - t0);
	if (dry_run) {
		e = converge(d, t, d->topo, false, true, result, err);
		goto out;
	}
	if (nacls_of)
		e = converge_nacls(d, t, nacls_of, result, &taken, err);
	if (!taken)
		e = converge(d, t, d->topo, false, false, result, err);
	double in_effect = mono_ms();
	if (e) {
		log_err("change failed: %s; rolling back", err->msg);
		roll_back(d, t, err);
		goto out;
	}
	double ts = mono_ms();
	if (h && (e = h->doc(next, t, h->arg, err))) {
		roll_back(d, t, err);
		goto out;
	}
	alloc = topo_alloc_json(t);
	if ((e = state_save(d->state_path, next, alloc))) {
		vpc_fail(err, VPC_E_INTERNAL, "", "cannot save the state to %s: %s", d->state_path,
			 strerror(-e));
		roll_back(d, t, err);
		goto out;
	}
	free_old(d);
	d->old_desired = d->desired;
	d->old_alloc = d->alloc;
	d->old_topo = d->topo;
	d->desired = next;
	d->alloc = alloc;
	d->topo = t;
	log_debug("save %.2f ms", mono_ms() - ts);
	next = NULL;
	alloc = NULL;
	t = NULL;
	if (result && *result) {
		/* Both from the request's arrival: all of it, and until the kernel had
		 * it all, before the state was written (when traffic meets it). */
		double start = d->request_t0 ? d->request_t0 : t0;
		json_object_set_new(*result, "milliseconds", json_real(mono_ms() - start));
		json_object_set_new(*result, "in_effect_ms", json_real(in_effect - start));
	}
out:
	if (e && result && *result) {
		json_decref(*result);
		*result = NULL;
	}
	json_decref(next);
	json_decref(alloc);
	topo_free(t);
	return e;
}

int vpcd_change(struct vpcd *d, json_t *next, const char *nacls_of, bool dry_run,
		json_t **result, struct vpc_err *err)
{
	return change(d, next, NULL, nacls_of, dry_run, result, err);
}

/* The document was compiled with none of the lists' entries: their rules go in. */
static int lists_model(struct topology *t, void *arg, struct vpc_err *err)
{
	struct nacl_lists *ls = arg;
	for (size_t i = 0; i < ls->n; i++) {
		struct nacl_list *l = &ls->l[i];
		l->vi = topo_find_vpc(t, l->vpc);
		l->ni = l->vi < 0 ? -1 : vpc_find_nacl(&t->vpcs[l->vi], l->nacl);
		if (l->ni < 0) /* the document named it a moment ago */
			return vpc_fail(err, VPC_E_INTERNAL, "",
					"network ACL %s of VPC %s not in the model", l->nacl, l->vpc);
		topo_nacl_set(t, l->vi, l->ni, l->out, l->r, l->n);
	}
	return 0;
}

/* Once the kernel has them, the entries are written into the document too. */
static int lists_doc(json_t *next, struct topology *t, void *arg, struct vpc_err *err)
{
	struct nacl_lists *ls = arg;
	int e = 0;
	for (size_t i = 0; i < ls->n && !e; i++) {
		struct nacl_list *l = &ls->l[i];
		json_t *arr = topo_nacl_rules_json(l->r, l->n),
		       *path = json_pack("[s,s,s,s]", "vpcs", l->vpc, "network_acls", l->nacl);
		if (!arr || !path)
			e = vpc_fail(err, VPC_E_INTERNAL, "", "out of memory");
		else if (edit_set(next, path, l->out ? "outbound" : "inbound", arr, err))
			e = -EINVAL;
		else
			topo_nacl_src(t, l->vi, l->ni, l->out, arr); /* held by `next` now */
		json_decref(arr);
		json_decref(path);
	}
	return e;
}

int vpcd_change_lists(struct vpcd *d, json_t *next, struct nacl_lists *ls, const char *nacls_of,
		      bool dry_run, json_t **result, struct vpc_err *err)
{
	const struct change_hooks h = {lists_model, lists_doc, ls};
	return change(d, next, ls && ls->n ? &h : NULL, nacls_of, dry_run, result, err);
}

int vpcd_change_nacl(struct vpcd *d, const char *vpc, const char *nacl,
		     const struct nacl_entries *e, bool dry_run, json_t **result, struct vpc_err *err)
{
	struct nacl_list l[2] = {{.vpc = vpc, .nacl = nacl, .r = e->in, .n = e->n_in},
				 {.vpc = vpc, .nacl = nacl, .out = true, .r = e->out, .n = e->n_out}};
	struct nacl_lists ls = {l, 2};
	json_t *next = json_copy(d->desired), *none = json_array(),
	       *path = json_pack("[s,s,s,s]", "vpcs", vpc, "network_acls", nacl);
	int rc;
	/* The document without the NACL's entries compiles in no time whatever their
	 * number; the entries, parsed and checked already, go into the model. */
	if (!path || !next || !none)
		rc = vpc_fail(err, VPC_E_INTERNAL, "", "out of memory");
	else if (edit_set(next, path, "inbound", none, err) ||
		 edit_set(next, path, "outbound", none, err))
		rc = -EINVAL;
	else {
		rc = vpcd_change_lists(d, next, &ls, vpc, dry_run, result, err); /* takes `next` */
		next = NULL;
	}
	json_decref(next);
	json_decref(none);
	json_decref(path);
	return rc;
}

int vpcd_reconcile(struct vpcd *d, bool deep, json_t **result, struct vpc_err *err)
{
	double t0 = mono_ms();
	int e = converge(d, d->topo, d->topo, deep, false, result, err);
	if (!e && result && *result)
		json_object_set_new(*result, "milliseconds", json_real(mono_ms() - t0));
	return e;
}

int vpcd_open(struct vpcd *d, const char *state_dir, struct vpc_err *err)
{
	int e;
	memset(d, 0, sizeof(*d));
	d->features = VPCD_FEATURES;
	snprintf(d->state_path, sizeof(d->state_path), "%s/state.json", state_dir);
	if (mkdir(state_dir, 0700) && errno != EEXIST)
		return vpc_fail(err, VPC_E_INTERNAL, "", "cannot create %s: %s", state_dir,
				strerror(errno));
	if ((e = kernel_init(&d->k)))
		return vpc_fail(err, VPC_E_KERNEL, "", "cannot prepare %s: %s", VPC_NETNS_DIR,
				strerror(-e));
	if ((e = state_load(d->state_path, &d->desired, &d->alloc, err)))
		return e;
	/* The state was valid when saved; compiling it again with its own allocations
	 * gives the same model. */
	if ((e = compile(d, d->desired, &d->topo, err))) {
		char buf[700];
		vpc_err_str(err, buf, sizeof(buf));
		vpc_err_clear(err);
		vpc_fail(err, VPC_E_INTERNAL, "", "the saved state no longer validates: %s", buf);
		return e;
	}
	json_t *res = NULL;
	if ((e = vpcd_reconcile(d, true, &res, err)))
		return e;
	log_info("reconciled with %s: %lld repairs, %lld objects checked", d->state_path,
		 (long long)json_integer_value(json_object_get(res, "changes")),
		 (long long)json_integer_value(json_object_get(res, "checked")));
	json_decref(res);
	return 0;
}

bool vpcd_tidy(struct vpcd *d, bool idle)
{
	free_old(d);
	/* A patch is rebuilt at once when it is three quarters full, so that a burst
	 * of changes does not run out of room; all of them once things are quiet. */
	if (d->tidy_due || (idle && d->patches)) {
		double t0 = mono_ms();
		d->patches = kernel_gc(&d->k, idle ? 1 : NACL_PATCH_MAX * 3 / 4);
		log_debug("tidied up in %.2f ms; %zu NACL patches in use", mono_ms() - t0, d->patches);
		d->tidy_due = false;
	}
	return d->patches > 0;
}

void vpcd_close(struct vpcd *d)
{
	kernel_close(&d->k);
	free_old(d);
	json_decref(d->desired);
	json_decref(d->alloc);
	topo_free(d->topo);
	memset(d, 0, sizeof(*d));
}
