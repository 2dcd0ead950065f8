using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace TenantInvitations.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class MembershipsByUserAndTenant : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_memberships_user_id",
                table: "memberships");

            migrationBuilder.CreateIndex(
                name: "ix_memberships_user_id_tenant_id",
                table: "memberships",
                columns: new[] { "user_id", "tenant_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_memberships_user_id_tenant_id",
                table: "memberships");

            migrationBuilder.CreateIndex(
                name: "ix_memberships_user_id",
                table: "memberships",
                column: "user_id");
        }
    }
}
