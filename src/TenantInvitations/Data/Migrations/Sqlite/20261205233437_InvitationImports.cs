using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TenantInvitations.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class InvitationImports : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "invitation_import_files",
                columns: table => new
                {
                    import_id = table.Column<long>(type: "INTEGER", nullable: false),
                    content = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invitation_import_files", x => x.import_id);
                });

            migrationBuilder.CreateTable(
                name: "invitation_import_results",
                columns: table => new
                {
                    import_id = table.Column<long>(type: "INTEGER", nullable: false),
                    line = table.Column<int>(type: "INTEGER", nullable: false),
                    email = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    invitation_id = table.Column<long>(type: "INTEGER", nullable: true),
                    error = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invitation_import_results", x => new { x.import_id, x.line });
                });

            migrationBuilder.CreateTable(
                name: "invitation_imports",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false),
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    total_rows = table.Column<int>(type: "INTEGER", nullable: false),
                    processed_rows = table.Column<int>(type: "INTEGER", nullable: false),
                    created = table.Column<int>(type: "INTEGER", nullable: false),
                    skipped = table.Column<int>(type: "INTEGER", nullable: false),
                    failed = table.Column<int>(type: "INTEGER", nullable: false),
                    ignored_columns = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    finished_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    next_run_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    locked_by = table.Column<Guid>(type: "TEXT", nullable: true),
                    locked_until = table.Column<DateTime>(type: "TEXT", nullable: true),
                    attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    results_deleted_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    actor_subject = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    actor_email = table.Column<string>(type: "TEXT", maxLength: 254, nullable: true),
                    actor_is_platform_admin = table.Column<bool>(type: "INTEGER", nullable: false),
                    actor_role = table.Column<string>(type: "TEXT", maxLength: 20, nullable: true),
                    trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    client_address = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invitation_imports", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_invitation_imports_due",
                table: "invitation_imports",
                column: "next_run_at",
                filter: "status IN ('Queued', 'Running', 'WaitingForQuota')");

            migrationBuilder.CreateIndex(
                name: "ix_invitation_imports_tenant_id_created_at_id",
                table: "invitation_imports",
                columns: new[] { "tenant_id", "created_at", "id" },
                descending: new[] { false, true, true });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "invitation_import_files");

            migrationBuilder.DropTable(
                name: "invitation_import_results");

            migrationBuilder.DropTable(
                name: "invitation_imports");
        }
    }
}
