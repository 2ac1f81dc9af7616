package policy

# Confidential computing enforcement policy of Contoso's container group (local demo).
# host_data of Contoso's virtual SEV-SNP host is the SHA-256 of this file, as ACI sets it
# to the SHA-256 of the decoded ccePolicy.

api_version := "0.10.0"
framework_version := "0.2.3"

containers := [
  {
    "id": "aci-attestation-demo:contoso",
    "command": ["/usr/bin/supervisord", "-n", "-c", "/app/supervisord.conf"],
    "env_rules": [
      {"pattern": "SKR_KEY_NAME=contoso-secret-key", "strategy": "string", "required": true},
      {"pattern": "COMPANY_NAME=contoso", "strategy": "string", "required": true}
    ],
    "allow_elevated": false,
    "exec_processes": []
  }
]

allow_properties_access := false
allow_dump_stacks := false
allow_runtime_logging := false
allow_environment_variable_dropping := false
allow_unencrypted_scratch := false
allow_capability_dropping := false

mount_device := data.framework.mount_device
create_container := data.framework.create_container
exec_in_container := data.framework.exec_in_container
exec_external := data.framework.exec_external
