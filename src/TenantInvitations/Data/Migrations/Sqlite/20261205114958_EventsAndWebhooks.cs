using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

#pragma warning disable CA1814 // Prefer jagged arrays over multidimensional

namespace TenantInvitations.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EventsAndWebhooks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "expiry_announced",
                table: "invitations",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "event_marks",
                columns: table => new
                {
                    name = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    position = table.Column<long>(type: "INTEGER", nullable: false),
                    event_id = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_event_marks", x => x.name);
                });

            migrationBuilder.CreateTable(
                name: "events",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false),
                    type = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: true),
                    occurred_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    actor_subject = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    actor_email = table.Column<string>(type: "TEXT", maxLength: 254, nullable: true),
                    actor_is_platform_admin = table.Column<bool>(type: "INTEGER", nullable: false),
                    data = table.Column<string>(type: "TEXT", nullable: false),
                    trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    position = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "webhook_endpoints",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false),
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: true),
                    url = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    types = table.Column<string>(type: "TEXT", nullable: true),
                    description = table.Column<string>(type: "TEXT", maxLength: 500, nullable: true),
                    enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    disabled_reason = table.Column<string>(type: "TEXT", maxLength: 500, nullable: true),
                    disabled_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    from_position = table.Column<long>(type: "INTEGER", nullable: false),
                    next_send_ticks = table.Column<long>(type: "INTEGER", nullable: false),
                    protected_secret = table.Column<string>(type: "TEXT", nullable: false),
                    protected_previous_secret = table.Column<string>(type: "TEXT", nullable: true),
                    previous_secret_expires_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    failing_since = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_webhook_endpoints", x => x.id);
                    table.ForeignKey(
                        name: "fk_webhook_endpoints_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id");
                });

            migrationBuilder.CreateTable(
                name: "webhook_deliveries",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false),
                    endpoint_id = table.Column<long>(type: "INTEGER", nullable: false),
                    event_id = table.Column<long>(type: "INTEGER", nullable: false),
                    event_type = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    tenant_id = table.Column<long>(type: "INTEGER", nullable: true),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    next_attempt_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    last_attempt_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    response_status = table.Column<int>(type: "INTEGER", nullable: true),
                    error = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    response_body = table.Column<string>(type: "TEXT", maxLength: 1024, nullable: true),
                    duration_ms = table.Column<int>(type: "INTEGER", nullable: true),
                    trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    locked_until = table.Column<DateTime>(type: "TEXT", nullable: true),
                    locked_by = table.Column<Guid>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_webhook_deliveries", x => x.id);
                    table.ForeignKey(
                        name: "fk_webhook_deliveries_events_event_id",
                        column: x => x.event_id,
                        principalTable: "events",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_webhook_deliveries_webhook_endpoints_endpoint_id",
                        column: x => x.endpoint_id,
                        principalTable: "webhook_endpoints",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.InsertData(
                table: "event_marks",
                columns: new[] { "name", "event_id", "position" },
                values: new object[,]
                {
                    { "retention_deleted", 0L, 0L },
                    { "webhooks_fanned_out", 0L, 0L }
                });

            migrationBuilder.CreateIndex(
                name: "ix_invitations_expiry_due",
                table: "invitations",
                column: "expires_at",
                filter: "status = 'Pending' AND NOT expiry_announced");

            migrationBuilder.CreateIndex(
                name: "ix_events_occurred_at",
                table: "events",
                column: "occurred_at");

            migrationBuilder.CreateIndex(
                name: "ix_events_position_id",
                table: "events",
                columns: new[] { "position", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_events_tenant_id_position_id",
                table: "events",
                columns: new[] { "tenant_id", "position", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_due",
                table: "webhook_deliveries",
                column: "next_attempt_at",
                filter: "status IN ('Pending', 'Retrying')");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_created_at_id",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "created_at", "id" },
                descending: new[] { false, true, true });

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_endpoint_id_event_id",
                table: "webhook_deliveries",
                columns: new[] { "endpoint_id", "event_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_webhook_deliveries_event_id",
                table: "webhook_deliveries",
                column: "event_id");

            migrationBuilder.CreateIndex(
                name: "ix_webhook_endpoints_tenant_id_created_at_id",
                table: "webhook_endpoints",
                columns: new[] { "tenant_id", "created_at", "id" });

            // Invitations that had already lapsed when events were installed get no invitation.expired.
            migrationBuilder.Sql("UPDATE invitations SET expiry_announced = 1 WHERE status = 'Pending' AND expires_at <= strftime('%Y-%m-%d %H:%M:%f', 'now');");

            // The feed's position: a counter taken under SQLite's one write lock, so positions follow commit order (docs/events.md).
            migrationBuilder.Sql("INSERT INTO event_marks (name, position, event_id) VALUES ('last_position', 0, 0);");
            migrationBuilder.Sql("""
                CREATE TRIGGER events_position AFTER INSERT ON events
                BEGIN
                    UPDATE event_marks SET position = position + 1 WHERE name = 'last_position';
                    UPDATE events SET position = (SELECT position FROM event_marks WHERE name = 'last_position') WHERE id = NEW.id;
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS events_position;");
            migrationBuilder.DropTable(
                name: "event_marks");

            migrationBuilder.DropTable(
                name: "webhook_deliveries");

            migrationBuilder.DropTable(
                name: "events");

            migrationBuilder.DropTable(
                name: "webhook_endpoints");

            migrationBuilder.DropIndex(
                name: "ix_invitations_expiry_due",
                table: "invitations");

            migrationBuilder.DropColumn(
                name: "expiry_announced",
                table: "invitations");
        }
    }
}
