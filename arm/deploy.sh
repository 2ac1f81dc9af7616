#!/usr/bin/env bash
# Build and deploy the confidential ACI attestation demo to Azure (Linux or macOS).
# What the original's Deploy-AttestationDemo.ps1 / Deploy-MultiParty.ps1 did, with safer defaults:
#   - each key's release policy pins the host_data (policy hash) of its own container group,
#     plus attestation type, compliance status and is-debuggable;
#   - the Standard-SKU container (the snooper) gets an identity with no access to any key;
#   - images are pulled with a managed identity: no registry admin user, no password on disk;
#   - storage is reached with a managed identity role, not a shared SAS.
# Run with --help for the options.  Needs: az (logged in), jq, openssl, curl; Docker for policy
# generation.  Writes its state (no secrets) under $DEPLOY_DIR (default ./.deploy/<prefix>/).
# Test hooks: DEPLOY_RANDOM_SUFFIX (8 letters), DEPLOY_TIMESTAMP (MMddHHmm), DEPLOY_WAIT_SECONDS,
# DEPLOY_POLL_SECONDS.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=deploy.sh
image_repo=aci-attestation-demo
storage_container=privateappdata
cg_type=Microsoft.ContainerInstance/containerGroups
# A host_data no container can have: keys are created unreleasable until --deploy pins the real one.
deny_hostdata=0000000000000000000000000000000000000000000000000000000000000000

usage() {
	cat <<'EOF'
Usage: arm/deploy.sh --prefix CODE [--multi-party] ACTION... [OPTIONS]

Actions (at least one):
  --build            create the resource group, registry, Premium Key Vault(s), identities,
                     exportable RSA-HSM keys, (multi-party) storage, and build the image
                     with `az acr build`
  --deploy           generate the confidential policy (az confcom acipolicygen), pin its hash
                     in the key's release policy, deploy, wait for the site(s), open the view,
                     then ask whether to delete the containers, everything, or keep them
  --compare          (single) deploy a Confidential and a Standard container side by side
  --cleanup          delete the resource group (everything --build made) and the local state

Options:
  --prefix CODE          3-8 lowercase letters or digits; names the resource group (required)
  --multi-party          Contoso and Fabrikam (Confidential) plus a snooper (Standard)
  --no-acc               (single --deploy) Standard SKU only: no Docker, no policy
  --skip-browser         do not open the view; print its path
  --registry-name NAME   use (or create) this Azure Container Registry (5-50 letters/digits)
  --location REGION      Azure region (default eastus)
  --maa-endpoint HOST    attestation provider (default sharedeus.eus.attest.azure.net)
  -h, --help             this text

Examples:
  arm/deploy.sh --prefix demo1 --multi-party --build --deploy
  arm/deploy.sh --prefix demo1 --build --compare
  arm/deploy.sh --prefix demo1 --cleanup
EOF
}

die() { # usage error
	echo "$prog: $*" >&2
	echo "Run '$prog --help' for usage." >&2
	exit 2
}
fail() { # runtime error
	echo "$prog: error: $*" >&2
	exit 1
}
say() { echo "==> $*"; }
warn() { echo "$prog: warning: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Arguments

build=0 deploy=0 cleanup=0 noacc=0 compare=0 multi=0 skip_browser=0
prefix="" registry_name="" location=eastus maa_endpoint=sharedeus.eus.attest.azure.net

need_value() { # option remaining-argument-count value
	if [ "$2" -lt 2 ] || [ -z "$3" ] || [[ $3 == -* ]]; then
		die "option $1 needs a value"
	fi
}
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=1 ;;
	--deploy) deploy=1 ;;
	--cleanup) cleanup=1 ;;
	--no-acc) noacc=1 ;;
	--compare) compare=1 ;;
	--multi-party) multi=1 ;;
	--skip-browser) skip_browser=1 ;;
	--prefix | --registry-name | --location | --maa-endpoint)
		need_value "$1" $# "${2:-}"
		case $1 in
		--prefix) prefix=$2 ;;
		--registry-name) registry_name=$2 ;;
		--location) location=$2 ;;
		--maa-endpoint) maa_endpoint=$2 ;;
		esac
		shift
		;;
	--prefix=* | --registry-name=* | --location=* | --maa-endpoint=*)
		value=${1#*=}
		[ -n "$value" ] || die "option ${1%%=*} needs a value"
		case $1 in
		--prefix=*) prefix=$value ;;
		--registry-name=*) registry_name=$value ;;
		--location=*) location=$value ;;
		--maa-endpoint=*) maa_endpoint=$value ;;
		esac
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option '$1'" ;;
	esac
	shift
done

[ -n "$prefix" ] || die "--prefix is required (3-8 lowercase letters or digits, e.g. --prefix demo1)"
[[ $prefix =~ ^[a-z0-9]{3,8}$ ]] ||
	die "--prefix must be 3-8 lowercase letters or digits, got '$prefix'"
[[ $location =~ ^[a-z0-9]{2,40}$ ]] || die "--location must be an Azure region name like eastus, got '$location'"
if [ -n "$registry_name" ] && ! [[ $registry_name =~ ^[A-Za-z0-9]{5,50}$ ]]; then
	die "--registry-name must be 5-50 letters or digits, got '$registry_name'"
fi
[[ $maa_endpoint =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] ||
	die "--maa-endpoint must be a host name without scheme (e.g. sharedeus.eus.attest.azure.net), got '$maa_endpoint'"
[ $((build + deploy + compare + cleanup)) -gt 0 ] ||
	die "nothing to do: give --build, --deploy, --compare or --cleanup"
if [ $cleanup -eq 1 ] && [ $((build + deploy + compare)) -gt 0 ]; then
	die "--cleanup cannot be combined with --build, --deploy or --compare"
fi
if [ $multi -eq 1 ] && [ $((noacc + compare)) -gt 0 ]; then
	die "--no-acc and --compare are single-instance modes: drop --multi-party"
fi
if [ $noacc -eq 1 ] && [ $compare -eq 1 ]; then
	die "--no-acc and --compare exclude each other (--compare deploys a Standard container too)"
fi
if [ $noacc -eq 1 ] && [ $deploy -eq 0 ]; then
	die "--no-acc only changes --deploy: add --deploy"
fi

suffix=${DEPLOY_RANDOM_SUFFIX:-}
if [ -n "$suffix" ] && ! [[ $suffix =~ ^[a-z]{8}$ ]]; then
	die "DEPLOY_RANDOM_SUFFIX must be 8 lowercase letters, got '$suffix'"
fi
stamp=${DEPLOY_TIMESTAMP:-$(date +%m%d%H%M)}
[[ $stamp =~ ^[0-9]{8}$ ]] || die "DEPLOY_TIMESTAMP must be MMddHHmm (8 digits), got '$stamp'"
wait_seconds=${DEPLOY_WAIT_SECONDS:-240}
poll_seconds=${DEPLOY_POLL_SECONDS:-5}
[[ $wait_seconds =~ ^[0-9]+$ && $poll_seconds =~ ^[0-9]+$ ]] ||
	die "DEPLOY_WAIT_SECONDS and DEPLOY_POLL_SECONDS must be whole numbers"

mode=single
[ $multi -eq 0 ] || mode="multi-party"
state_root=${DEPLOY_DIR:-$PWD/.deploy}
state=$state_root/$prefix
config=$state/config.json
# Everything this script writes is private to the user.
umask 077

# ---------------------------------------------------------------------------------------------
# Helpers

require() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "'$t' is not installed or not on PATH"
	done
}

random_suffix() {
	# 8 letters a-p from 32 random bits; no pipe that could die of SIGPIPE under pipefail.
	local hex
	hex=$(openssl rand -hex 4)
	echo "$hex" | tr '0123456789abcdef' 'abcdefghijklmnop'
}

json_field() { # json field -> value, failing when it is missing or empty
	local v
	v=$(jq -r --arg f "$2" '.[$f] // empty' <<<"$1") || fail "unexpected output from az: not JSON"
	[ -n "$v" ] || fail "az output has no '$2'"
	echo "$v"
}

cfg() { # field of the saved configuration
	jq -r "$1 // empty" "$config"
}

check_login() {
	az account show --query id -o tsv >/dev/null ||
		fail "not logged in to Azure: run 'az login' (and 'az account set --subscription ...')"
}

# Release policy for one company's key: the template with the attestation provider and the
# host_data (SHA-256 of that container group's CCE policy) filled in.
write_release_policy() { # hostdata file
	jq --arg a "https://$maa_endpoint" --arg h "$1" '
		.anyOf[0].authority = $a
		| .anyOf[0].allOf |= map(if .claim == "x-ms-sevsnpvm-hostdata" then .equals = $h else . end)
	' "$here/release-policy.json" >"$2"
}

html_escape() {
	local s=$1
	s=${s//&/&amp;}
	s=${s//</&lt;}
	s=${s//>/&gt;}
	s=${s//\"/&quot;}
	printf '%s' "$s"
}

# ---------------------------------------------------------------------------------------------
# --build

# Parties: name vault-suffix key-name.  Single mode has one ("demo").
parties() {
	if [ $multi -eq 1 ]; then
		printf '%s\n' "contoso a contoso-secret-key" "fabrikam b fabrikam-secret-key"
	else
		printf '%s\n' "demo - skr-demo-key"
	fi
}

do_build() {
	require az jq openssl
	check_login
	[ -n "$suffix" ] || suffix=$(random_suffix)
	local acr="acr$suffix"
	local rg="${prefix}${acr}-rg"
	local registry=${registry_name:-$acr}
	local reg_json reg_id login_server tag image
	mkdir -p "$state"
	if [ -f "$config" ]; then
		fail "$config already exists (resource group $(cfg .resourceGroup)): run --cleanup first or use another --prefix"
	fi

	say "resource group $rg in $location"
	az group create --name "$rg" --location "$location" -o none

	say "container registry $registry (no admin user: images are pulled with managed identities)"
	if [ -n "$registry_name" ] &&
		reg_json=$(az acr show --name "$registry" --query "{id:id,loginServer:loginServer}" -o json 2>/dev/null); then
		say "using the existing registry $registry"
	else
		reg_json=$(az acr create --resource-group "$rg" --name "$registry" --location "$location" \
			--sku Basic --admin-enabled false --query "{id:id,loginServer:loginServer}" -o json)
	fi
	reg_id=$(json_field "$reg_json" id)
	login_server=$(json_field "$reg_json" loginServer)

	local storage_account="" storage_scope=""
	if [ $multi -eq 1 ]; then
		storage_account="st${suffix}${prefix}"
		say "storage account $storage_account (no public blob access, no shared keys)"
		local st_id
		st_id=$(az storage account create --name "$storage_account" --resource-group "$rg" \
			--location "$location" --sku Standard_LRS --kind StorageV2 \
			--allow-blob-public-access false --allow-shared-key-access false \
			--min-tls-version TLS1_2 --https-only true --query id -o tsv)
		[ -n "$st_id" ] || fail "az storage account create returned no id"
		az storage container-rm create --storage-account "$storage_account" --resource-group "$rg" \
			--name "$storage_container" --public-access off -o none
		storage_scope="$st_id/blobServices/default/containers/$storage_container"
	fi

	local parties_json="[]" name vs key kv idn ident client_id id_id principal_id
	local blank_policy="$state/release-policy-unreleasable.json"
	write_release_policy "$deny_hostdata" "$blank_policy"
	while read -r name vs key; do
		if [ "$vs" = - ]; then kv="kv$acr"; idn="id-$acr"; else kv="kv$acr$vs"; idn="id-$acr-$name"; fi
		say "$name: Premium Key Vault $kv, identity $idn, key $key"
		az keyvault create --name "$kv" --resource-group "$rg" --location "$location" \
			--sku premium --enable-rbac-authorization false -o none
		ident=$(az identity create --name "$idn" --resource-group "$rg" --location "$location" \
			--query "{clientId:clientId,id:id,principalId:principalId}" -o json)
		client_id=$(json_field "$ident" clientId)
		id_id=$(json_field "$ident" id)
		principal_id=$(json_field "$ident" principalId)
		az keyvault set-policy --name "$kv" --object-id "$principal_id" \
			--key-permissions get release -o none
		# Until --deploy pins this company's container, the policy matches no container at all.
		az keyvault key create --vault-name "$kv" --name "$key" --kty RSA-HSM --size 2048 \
			--ops wrapKey unwrapKey encrypt decrypt --exportable true --policy "$blank_policy" -o none
		az role assignment create --assignee-object-id "$principal_id" \
			--assignee-principal-type ServicePrincipal --role AcrPull --scope "$reg_id" -o none
		if [ -n "$storage_scope" ]; then
			az role assignment create --assignee-object-id "$principal_id" \
				--assignee-principal-type ServicePrincipal --role "Storage Blob Data Contributor" \
				--scope "$storage_scope" -o none
		fi
		parties_json=$(jq --arg n "$name" --arg kv "$kv" --arg k "$key" --arg idn "$idn" \
			--arg id "$id_id" --arg c "$client_id" \
			'. + [{name:$n, keyVaultName:$kv, skrKeyName:$k, skrAkvEndpoint:($kv + ".vault.azure.net"),
			       identityName:$idn, identityResourceId:$id, identityClientId:$c}]' <<<"$parties_json")
	done < <(parties)

	# The Standard-SKU container: an identity that may pull the image (and, multi-party, read the
	# shared blob like the original's snooper) but has no access policy on any vault.
	local std_name=standard
	[ $multi -eq 0 ] || std_name=snooper
	idn="id-$acr-$std_name"
	say "$std_name: identity $idn (AcrPull$([ -z "$storage_scope" ] || echo ", blob reader"); no key access)"
	ident=$(az identity create --name "$idn" --resource-group "$rg" --location "$location" \
		--query "{clientId:clientId,id:id,principalId:principalId}" -o json)
	client_id=$(json_field "$ident" clientId)
	id_id=$(json_field "$ident" id)
	principal_id=$(json_field "$ident" principalId)
	az role assignment create --assignee-object-id "$principal_id" \
		--assignee-principal-type ServicePrincipal --role AcrPull --scope "$reg_id" -o none
	if [ -n "$storage_scope" ]; then
		az role assignment create --assignee-object-id "$principal_id" \
			--assignee-principal-type ServicePrincipal --role "Storage Blob Data Reader" \
			--scope "$storage_scope" -o none
	fi

	tag=$stamp
	image="$login_server/$image_repo:$tag"
	say "building $image in the registry (az acr build)"
	az acr build --registry "$registry" --image "$image_repo:$tag" --file "$repo/Dockerfile" "$repo"

	jq -n --arg mode "$mode" --arg prefix "$prefix" --arg rg "$rg" --arg loc "$location" \
		--arg acr "$acr" --arg reg "$registry" --arg regid "$reg_id" --arg ls "$login_server" \
		--arg img "$image" --arg maa "$maa_endpoint" --arg st "$storage_account" \
		--arg stc "$storage_container" --argjson parties "$parties_json" \
		--arg sn "$std_name" --arg sidn "$idn" --arg sid "$id_id" --arg sc "$client_id" \
		'{mode:$mode, prefix:$prefix, resourceGroup:$rg, location:$loc, baseName:$acr,
		  registryName:$reg, registryId:$regid, loginServer:$ls, fullImage:$img,
		  skrMaaEndpoint:$maa, storageAccountName:$st, storageContainerName:$stc,
		  parties:$parties,
		  standard:{name:$sn, identityName:$sidn, identityResourceId:$sid, identityClientId:$sc}}' \
		>"$config"
	say "build done; configuration saved in $config (no secrets)"
}

# ---------------------------------------------------------------------------------------------
# --deploy / --compare

load_config() {
	[ -f "$config" ] || fail "no build found for prefix '$prefix' ($config): run with --build first"
	local m
	m=$(cfg .mode)
	[ "$m" = "$mode" ] ||
		fail "prefix '$prefix' was built in $m mode; $([ "$m" = multi-party ] && echo add || echo drop) --multi-party"
	rg=$(cfg .resourceGroup)
	registry=$(cfg .registryName)
	login_server=$(cfg .loginServer)
	image=$(cfg .fullImage)
	maa_endpoint=$(cfg .skrMaaEndpoint)
	storage_account=$(cfg .storageAccountName)
	storage_url=""
	[ -z "$storage_account" ] ||
		storage_url="https://$storage_account.blob.core.windows.net/$(cfg .storageContainerName)"
}

party() { # index field
	jq -r --argjson i "$1" --arg f "$2" '.parties[$i][$f] // empty' "$config"
}

# Parameters file for one container group: every env-affecting parameter is given explicitly so
# that the policy acipolicygen computes holds exactly the values deployed.  No secrets in it.
write_params() { # file cg dns key akv company other other_key other_akv id_res id_client
	jq -n --arg cg "$2" --arg img "$image" --arg ls "$login_server" --arg dns "$3" \
		--arg key "$4" --arg maa "$maa_endpoint" --arg akv "$5" --arg co "$6" --arg oco "$7" \
		--arg okey "$8" --arg oakv "$9" --arg rg "$rg" --arg idr "${10}" --arg idc "${11}" \
		--arg st "$storage_account" --arg stc "$(cfg .storageContainerName)" --arg stu "$storage_url" \
		'def v: {value: .};
		{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
		 contentVersion: "1.0.0.0",
		 parameters: {
			containerGroupName: ($cg|v), appImage: ($img|v), registryServer: ($ls|v),
			registryIdentityResourceId: ($idr|v), dnsNameLabel: ($dns|v),
			identityResourceId: ($idr|v), identityClientId: ($idc|v),
			skrKeyName: ($key|v), skrMaaEndpoint: ($maa|v), skrAkvEndpoint: ($akv|v),
			companyName: ($co|v), otherCompanyName: ($oco|v), otherKeyName: ($okey|v),
			otherAkvEndpoint: ($oakv|v), resourceGroupName: ($rg|v),
			storageAccountName: ($st|v), storageContainerName: ($stc|v), storageAccountUrl: ($stu|v),
			blobBackend: ("azure"|v), attestationBackend: ("auto"|v)}}' >"$1"
}

policy_tools_ready=0
prepare_policy_tools() {
	[ $policy_tools_ready -eq 0 ] || return 0
	require docker
	docker info >/dev/null 2>&1 ||
		fail "Docker is not running: az confcom acipolicygen needs it to read the image layers (start Docker, or use --no-acc)"
	az extension show --name confcom -o none 2>/dev/null || az extension add --name confcom -o none
	say "logging Docker in to $registry with your Azure identity (no registry password)"
	az acr login --name "$registry"
	policy_tools_ready=1
}

deployed_names=()
deployed_fqdns=()

# Deploy one Confidential container group for party index $1; pins its key to this group.
deploy_confidential() { # index cg dns other-index(or -)
	local i=$1 cg=$2 dns=$3 o=$4
	local name kv key akv idr idc oname="" okey="" oakv=""
	name=$(party "$i" name)
	kv=$(party "$i" keyVaultName)
	key=$(party "$i" skrKeyName)
	akv=$(party "$i" skrAkvEndpoint)
	idr=$(party "$i" identityResourceId)
	idc=$(party "$i" identityClientId)
	if [ "$o" != - ]; then
		oname=$(party "$o" name)
		okey=$(party "$o" skrKeyName)
		oakv=$(party "$o" skrAkvEndpoint)
	fi
	local company=$name
	[ "$name" != demo ] || company=""
	prepare_policy_tools
	local params="$state/params-$name.json" tpl="$state/template-$name.json" out b64 hostdata printed
	write_params "$params" "$cg" "$dns" "$key" "$akv" "$company" "$oname" "$okey" "$oakv" "$idr" "$idc"
	cp "$here/aci-confidential.json" "$tpl"
	say "$name: generating the confidential computing policy (az confcom acipolicygen)"
	# stdin closed: acipolicygen must never sit waiting for a wildcard or overwrite question.
	out=$(az confcom acipolicygen --template-file "$tpl" --parameters "$params" --disable-stdio </dev/null) ||
		fail "az confcom acipolicygen failed for $name"
	b64=$(jq -r --arg t "$cg_type" \
		'[.resources[] | select(.type == $t)][0].properties.confidentialComputeProperties.ccePolicy // empty' "$tpl")
	[ -n "$b64" ] || fail "acipolicygen left no ccePolicy in $tpl"
	hostdata=$(printf '%s' "$b64" | openssl base64 -d -A | openssl dgst -sha256 | awk '{print $NF}')
	[[ $hostdata =~ ^[0-9a-f]{64}$ ]] || fail "could not hash the policy in $tpl"
	printed=$(grep -oE '(^|[^0-9a-f])[0-9a-f]{64}([^0-9a-f]|$)' <<<"$out" | grep -oE '[0-9a-f]{64}' | tail -n 1 || true)
	if [ -n "$printed" ] && [ "$printed" != "$hostdata" ]; then
		fail "acipolicygen printed policy hash $printed but the template's policy hashes to $hostdata"
	fi
	say "$name: policy hash (host_data) $hostdata; pinning it in $kv/$key's release policy"
	write_release_policy "$hostdata" "$state/release-policy-$name.json"
	az keyvault key set-attributes --vault-name "$kv" --name "$key" \
		--policy "$state/release-policy-$name.json" -o none
	deploy_group "$cg" "$tpl" "$params"
}

# Deploy the Standard container group: the company's settings but an identity with no key access.
deploy_standard() { # cg dns key-party-index(or -) other-index(or -)
	local cg=$1 dns=$2 i=$3 o=$4 key="" akv="" company="" oname="" okey="" oakv=""
	if [ "$i" != - ]; then
		key=$(party "$i" skrKeyName)
		akv=$(party "$i" skrAkvEndpoint)
		company=$(party "$i" name)
		[ "$company" != demo ] || company=""
	fi
	if [ "$o" != - ]; then
		oname=$(party "$o" name)
		okey=$(party "$o" skrKeyName)
		oakv=$(party "$o" skrAkvEndpoint)
	fi
	local sname params
	sname=$(cfg .standard.name)
	params="$state/params-$sname.json"
	write_params "$params" "$cg" "$dns" "$key" "$akv" "$company" "$oname" "$okey" "$oakv" \
		"$(cfg .standard.identityResourceId)" "$(cfg .standard.identityClientId)"
	say "$sname: Standard SKU (no TEE), identity without key access"
	deploy_group "$cg" "$here/aci-standard.json" "$params"
}

deploy_group() { # cg template params
	local fqdn
	say "deploying $1"
	fqdn=$(az deployment group create --resource-group "$rg" --name "$1" --template-file "$2" \
		--parameters "@$3" --query properties.outputs.fqdn.value -o tsv)
	[ -n "$fqdn" ] || fail "deployment $1 returned no fqdn"
	deployed_names+=("$1")
	deployed_fqdns+=("$fqdn")
	say "$1: http://$fqdn/"
}

wait_for_sites() {
	local fqdn deadline
	deadline=$((SECONDS + wait_seconds))
	for fqdn in "${deployed_fqdns[@]}"; do
		say "waiting for http://$fqdn/health (up to ${wait_seconds}s)"
		until curl -fsS -o /dev/null --max-time 5 "http://$fqdn/health" 2>/dev/null; do
			if [ $SECONDS -ge $deadline ]; then
				warn "http://$fqdn/ is not answering yet; it may need a few more minutes"
				break
			fi
			sleep "$poll_seconds"
		done
	done
}

pane() { # title subtitle url ok|bad [wide]
	local style=""
	[ -z "${5:-}" ] || style=' style="grid-column:1 / span 2"'
	printf '<section class="%s"%s><h2>%s <small>%s</small></h2><iframe src="%s" title="%s"></iframe></section>\n' \
		"$4" "$style" "$(html_escape "$1")" "$(html_escape "$2")" "$(html_escape "$3")" "$(html_escape "$1")"
}

write_view() { # file title layout panes...
	local file=$1 title=$2 layout=$3
	shift 3
	{
		printf '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title>\n' \
			"$(html_escape "$title")"
		cat <<EOF
<style>
body{margin:0;font-family:sans-serif;background:#111;color:#eee}
main{display:grid;gap:6px;height:100vh;padding:6px;box-sizing:border-box;$layout}
section{display:flex;flex-direction:column;min-height:0}
h2{margin:0;padding:4px 8px;font-size:14px}
.ok h2{background:#1b5e20}.bad h2{background:#b71c1c}
iframe{flex:1;border:0;background:#fff}
</style></head><body><main>
EOF
		printf '%s\n' "$@"
		printf '</main></body></html>\n'
	} >"$file"
	chmod 0644 "$file"
}

# The multi-party view is the project's own www/multiparty-view.html (the page `make run` serves),
# with the Azure URLs written into its #mp-config data block.
write_mp_view() { # dir config-json
	local dir=$1 f
	for f in multiparty-view.js style.css favicon.svg; do
		cp "$repo/www/$f" "$dir/$f"
		chmod 0644 "$dir/$f"
	done
	# "</" inside the JSON could close the data block: write it as "<\/" (same JSON value).
	MP_CONFIG=${2//<\//<\\/} awk '
		index($0, "<script type=\"application/json\" id=\"mp-config\"></script>") {
			sub(/<\/script>/, ENVIRON["MP_CONFIG"] "</script>")
		}
		{ print }' "$repo/www/multiparty-view.html" >"$dir/multiparty-view.html"
	chmod 0644 "$dir/multiparty-view.html"
}

open_view() {
	if [ $skip_browser -eq 1 ]; then
		say "view written to $1"
	elif command -v xdg-open >/dev/null 2>&1; then
		xdg-open "$1" >/dev/null 2>&1 || warn "could not open $1"
	elif command -v open >/dev/null 2>&1; then
		open "$1" || warn "could not open $1"
	else
		say "open $1 in a browser"
	fi
}

after_deploy_prompt() {
	local answer="" i
	cat <<EOF

The demo is running. What now?
  1) delete the container groups (keep vaults, keys, registry, image)
  2) delete everything (the resource group $rg)
  3) keep it running (default; later: arm/deploy.sh --prefix $prefix --cleanup)
EOF
	printf 'Choice [3]: '
	read -r answer || answer=""
	echo
	case $answer in
	1)
		for i in "${deployed_names[@]}"; do
			say "deleting container group $i"
			az container delete --resource-group "$rg" --name "$i" --yes -o none
		done
		;;
	2) do_cleanup ;;
	*) say "kept running. Delete later with: arm/deploy.sh --prefix $prefix$([ $multi -eq 0 ] || echo ' --multi-party') --cleanup" ;;
	esac
}

do_deploy() {
	require az jq openssl curl
	load_config
	check_login
	mkdir -p "$state"
	if [ -n "${AZURE_STORAGE_CONNECTION_STRING:-}" ]; then
		warn "AZURE_STORAGE_CONNECTION_STRING is set and ignored: the containers reach storage with their managed identities"
	fi
	local view
	if [ $multi -eq 1 ]; then
		local sname
		sname=$(cfg .standard.name)
		deploy_confidential 0 "aci-contoso-$stamp" "$prefix-contoso-$stamp" 1
		deploy_confidential 1 "aci-fabrikam-$stamp" "$prefix-fabrikam-$stamp" 0
		# As in the original the snooper shows Contoso's settings, but holds no key access.
		deploy_standard "aci-$sname-$stamp" "$prefix-$sname-$stamp" 0 1
		wait_for_sites
		view="$state/multiparty-view.html"
		write_mp_view "$state" "$(jq -cn \
			--arg cu "http://${deployed_fqdns[0]}/" --arg ck "$(party 0 skrKeyName)" --arg cv "$(party 0 skrAkvEndpoint)" \
			--arg fu "http://${deployed_fqdns[1]}/" --arg fk "$(party 1 skrKeyName)" --arg fv "$(party 1 skrAkvEndpoint)" \
			--arg su "http://${deployed_fqdns[2]}/" \
			'{contoso: {url: $cu, key: $ck, vault: $cv}, fabrikam: {url: $fu, key: $fk, vault: $fv},
			  snooper: {url: $su, key: $ck, vault: $cv}}')"
	elif [ $compare -eq 1 ]; then
		deploy_confidential 0 "aci-confidential-$stamp" "$prefix-conf-$stamp" -
		deploy_standard "aci-standard-$stamp" "$prefix-std-$stamp" 0 -
		wait_for_sites
		view="$state/comparison-view.html"
		write_view "$view" "Confidential vs Standard ACI" 'grid-template-columns:1fr 1fr' \
			"$(pane "CONFIDENTIAL (AMD SEV-SNP TEE)" "$(party 0 skrKeyName)" "http://${deployed_fqdns[0]}/" ok)" \
			"$(pane "STANDARD (No Hardware Protection)" "no key access" "http://${deployed_fqdns[1]}/" bad)"
	elif [ $noacc -eq 1 ]; then
		deploy_standard "aci-standard-$stamp" "$prefix-std-$stamp" 0 -
		wait_for_sites
		view=""
	else
		deploy_confidential 0 "aci-confidential-$stamp" "$prefix-conf-$stamp" -
		wait_for_sites
		view=""
	fi
	if [ -n "$view" ]; then
		open_view "$view"
	elif [ $skip_browser -eq 0 ]; then
		open_view "http://${deployed_fqdns[0]}/"
	fi
	after_deploy_prompt
}

# ---------------------------------------------------------------------------------------------
# --cleanup

do_cleanup() {
	require az jq
	[ -f "$config" ] || fail "no deployment recorded for prefix '$prefix' ($config): nothing to clean up"
	local group
	group=$(cfg .resourceGroup)
	[ -n "$group" ] || fail "$config names no resource group"
	check_login
	say "deleting resource group $group (vaults, keys, identities, registry, storage, containers)"
	az group delete --name "$group" --yes --no-wait
	rm -rf "$state"
	say "deletion started; the Key Vaults stay soft-deleted for their retention period"
}

if [ $cleanup -eq 1 ]; then
	do_cleanup
	exit 0
fi
[ $build -eq 0 ] || do_build
if [ $deploy -eq 1 ] || [ $compare -eq 1 ]; then
	do_deploy
fi
