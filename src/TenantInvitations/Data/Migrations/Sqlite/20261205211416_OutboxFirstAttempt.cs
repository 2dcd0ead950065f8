using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TenantInvitations.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class OutboxFirstAttempt : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "first_attempt_at",
                table: "outbox_messages",
                type: "TEXT",
                nullable: true);

            // An email already being retried keeps the promise it was queued under: its retry time counts from its queuing.
            migrationBuilder.Sql("UPDATE outbox_messages SET first_attempt_at = created_at WHERE attempts > 0;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "first_attempt_at",
                table: "outbox_messages");
        }
    }
}
